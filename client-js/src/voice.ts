// Voice calls between two players: WebRTC in the browsers, its signaling
// (offer, answer, ICE candidates, hang-up) relayed by the server over the
// tickroom.v1 connection the players already have (Client.sendSignal and
// the "signal" event). The server only relays: it checks that the two
// are players of one room (not a spectator of it) or friends, and names
// the sender itself. Which offers to answer is the application's call:
// answerCall takes any it is given.
import type { Client } from "./client.js";
import { Emitter } from "./emitter.js";
import { SignalKind, type Signal } from "./gen/tickroom/v1/social_pb.js";

/** VoiceCallOptions configure startCall and answerCall. */
export interface VoiceCallOptions {
  /** stream is the local microphone (getUserMedia({audio: true})). */
  stream: MediaStream;
  /** iceServers are the STUN/TURN servers, as GET /v1/ice-servers returns them. Absent: none (host candidates only). */
  iceServers?: RTCIceServer[];
}

/** VoiceCallEvents are what a VoiceCall reports. */
export interface VoiceCallEvents {
  /** state follows RTCPeerConnection.connectionState ("connected", "failed", "closed", …). */
  state: RTCPeerConnectionState;
  /** track is the other party's audio. */
  track: MediaStream;
  /**
   * error reports a signal of the other party the call could not take: a
   * malformed or refused ICE candidate, an answer the peer connection
   * refused. The call goes on (ICE fails it if it cannot connect); the app
   * may hang up.
   */
  error: Error;
}

/**
 * VoiceCall is one call with one other user. The errors its listeners
 * throw go to the client's ClientOptions.onListenerError.
 */
export class VoiceCall extends Emitter<VoiceCallEvents> {
  /** pc is the underlying peer connection. */
  readonly pc: RTCPeerConnection;
  /** remote is the other party's audio once it arrived (the "track" event also reports it). */
  remote: MediaStream | undefined;
  private readonly unsubscribe: () => void;
  private readonly pending: RTCIceCandidateInit[] = [];

  constructor(
    private readonly client: Client,
    /** peer is the other party's user id. */
    readonly peer: string,
    /** callId names the call in every signaling message. */
    readonly callId: string,
    opts: VoiceCallOptions,
  ) {
    super(client.listenerErrorHandler);
    this.pc = new RTCPeerConnection({ iceServers: opts.iceServers ?? [] });
    for (const t of opts.stream.getTracks()) this.pc.addTrack(t, opts.stream);
    this.pc.onicecandidate = (ev) => {
      if (ev.candidate) void this.send(SignalKind.CANDIDATE, JSON.stringify(ev.candidate.toJSON()));
    };
    this.pc.onconnectionstatechange = () => this.emit("state", this.pc.connectionState);
    this.pc.ontrack = (ev) => {
      const s = ev.streams[0];
      if (s) {
        this.remote = s;
        this.emit("track", s);
      }
    };
    // Only this call's messages from this peer count; the server names the
    // sender, so no one else can answer or add candidates.
    this.unsubscribe = client.on("signal", (s) => {
      if (s.fromUserId === peer && s.callId === callId) this.take(s);
    });
  }

  /** hangup ends the call and tells the other party. */
  hangup(): void {
    void this.send(SignalKind.HANGUP, "");
    this.close();
  }

  private close(): void {
    this.unsubscribe();
    this.pc.close();
    this.emit("state", "closed");
  }

  private async send(kind: SignalKind, data: string): Promise<void> {
    try {
      await this.client.sendSignal(this.peer, this.callId, kind, data);
    } catch {
      // A refused or lost signal fails the call by itself (ICE times out).
    }
  }

  /** offer starts the call (the caller's side). */
  async offer(): Promise<void> {
    const o = await this.pc.createOffer();
    await this.pc.setLocalDescription(o);
    await this.send(SignalKind.OFFER, o.sdp ?? "");
  }

  /**
   * answer takes an offer (the callee's side), and the signals of this
   * call that arrived before the call was made (answerCall keeps them).
   */
  async answer(offerSdp: string, early: Signal[] = []): Promise<void> {
    for (const s of early) this.take(s); // candidates go to pending until the offer is set
    if (this.pc.signalingState === "closed") return; // hung up meanwhile
    await this.pc.setRemoteDescription({ type: "offer", sdp: offerSdp });
    await this.flush();
    const a = await this.pc.createAnswer();
    await this.pc.setLocalDescription(a);
    await this.send(SignalKind.ANSWER, a.sdp ?? "");
  }

  // take handles a signal of the other party; what fails is the call's
  // error event, since nothing awaits it.
  private take(s: Signal): void {
    this.handle(s).catch((err: unknown) => this.emit("error", err instanceof Error ? err : new Error(String(err))));
  }

  private async handle(s: Signal): Promise<void> {
    switch (s.kind) {
      case SignalKind.ANSWER:
        await this.pc.setRemoteDescription({ type: "answer", sdp: s.data });
        await this.flush();
        break;
      case SignalKind.CANDIDATE: {
        const c = JSON.parse(s.data) as RTCIceCandidateInit;
        if (this.pc.remoteDescription) await this.pc.addIceCandidate(c);
        else this.pending.push(c);
        break;
      }
      case SignalKind.HANGUP:
        this.close();
        break;
      default:
    }
  }

  private async flush(): Promise<void> {
    for (const c of this.pending.splice(0)) await this.pc.addIceCandidate(c);
  }
}

/** startCall calls peer: it sends the offer and resolves with the call. */
export async function startCall(client: Client, peer: string, opts: VoiceCallOptions): Promise<VoiceCall> {
  const call = new VoiceCall(client, peer, crypto.randomUUID(), opts);
  await call.offer();
  return call;
}

/**
 * earlySignals bounds the signals answerCall keeps for a call while its
 * options are on their way: a caller's ICE candidates, a few to a few
 * dozen, follow its offer at once.
 */
const earlySignals = 64;

/**
 * answerCall answers an incoming offer (a "signal" event of kind OFFER).
 * Call it as soon as the offer arrives: opts may be a promise (the
 * microphone, which getUserMedia may take seconds to give, or the
 * player's yes first), and the caller's ICE candidates, which follow its
 * offer at once, are kept meanwhile (up to 64 signals). Without them the
 * callee cannot reach a caller behind NAT. If opts rejects, the caller is
 * sent a hang-up and answerCall rejects with that error.
 */
export async function answerCall(client: Client, offer: Signal, opts: VoiceCallOptions | Promise<VoiceCallOptions>): Promise<VoiceCall> {
  const peer = offer.fromUserId;
  const early: Signal[] = [];
  const off = client.on("signal", (s) => {
    if (s.fromUserId === peer && s.callId === offer.callId && early.length < earlySignals) early.push(s);
  });
  let o: VoiceCallOptions;
  try {
    o = await opts;
  } catch (err) {
    client.sendSignal(peer, offer.callId, SignalKind.HANGUP, "").catch(() => {}); // the caller stops waiting
    throw err;
  } finally {
    off(); // the call subscribes below, with no await between
  }
  const call = new VoiceCall(client, peer, offer.callId, o);
  await call.answer(offer.data, early);
  return call;
}

/** fetchIceServers reads GET /v1/ice-servers with the session token. */
export async function fetchIceServers(baseUrl: string, token: string): Promise<RTCIceServer[]> {
  const res = await fetch(new URL("/v1/ice-servers", baseUrl), { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET /v1/ice-servers: ${res.status}`);
  const body = (await res.json()) as { ice_servers: RTCIceServer[] };
  return body.ice_servers;
}
