// The demo's voice button in gomoku rooms: a WebRTC audio call with the
// opponent, its signaling relayed by the server (client-js voice.ts). An
// incoming call from the opponent of the gomoku room the player is in is
// answered at once (the demo has no ringing UI to ask first); an offer
// from anyone else, a friend included, is ignored, so no one but the
// player's opponent can turn on its microphone. The button's data-voice
// says where the call is.
import { answerCall, fetchIceServers, startCall, type Client, type Room, type VoiceCall } from "../../src/index.js";
import { SignalKind } from "../../src/gen/tickroom/v1/social_pb.js";
import { errorText } from "./dom.js";

/** Voice drives the voice button and the remote audio element. */
export class Voice {
  private call: VoiceCall | undefined;
  private room: Room | undefined;
  private client: Client | undefined;
  private token = "";

  constructor(
    private readonly button: HTMLButtonElement,
    private readonly audio: HTMLAudioElement,
    private readonly status: (text: string) => void,
  ) {
    button.addEventListener("click", () => void (this.call ? this.hangup() : this.start()));
  }

  /** attach listens for incoming calls on client; token reads the ICE servers. */
  attach(client: Client, token: string): () => void {
    this.client = client;
    this.token = token;
    return client.on("signal", (s) => {
      if (s.kind === SignalKind.OFFER && !this.call && this.inVoiceRoom() && s.fromUserId === this.peer()) void this.answer(s);
    });
  }

  /** setRoom shows the button in gomoku rooms with an opponent seated. */
  setRoom(r: Room | undefined): void {
    this.room = r;
    const show = this.inVoiceRoom();
    this.button.hidden = !show;
    if (!show && this.call) this.hangup();
  }

  /** inVoiceRoom reports whether the player sits in a gomoku room, where calls are offered. */
  private inVoiceRoom(): boolean {
    const r = this.room;
    return !!r && r.game === "gomoku" && !r.spectator;
  }

  private peer(): string | undefined {
    const r = this.room;
    if (!r) return undefined;
    return [...r.players.values()].find((p) => p.seat !== r.seat)?.userId;
  }

  private async media(): Promise<{ stream: MediaStream; iceServers: RTCIceServer[] }> {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const iceServers = await fetchIceServers(location.origin, this.token).catch(() => []);
    return { stream, iceServers };
  }

  private async start(): Promise<void> {
    const peer = this.peer();
    if (!this.client || !peer) {
      this.status("Voice: no opponent to call yet.");
      return;
    }
    this.set("calling");
    try {
      this.track(await startCall(this.client, peer, await this.media()));
    } catch (err) {
      this.set("failed");
      this.status(`Voice: ${errorText(err)}`);
    }
  }

  private async answer(offer: Parameters<typeof answerCall>[1]): Promise<void> {
    if (!this.client) return;
    this.set("answering");
    try {
      // answerCall at once, with the microphone to come: it keeps the
      // caller's candidates that arrive meanwhile.
      this.track(await answerCall(this.client, offer, this.media()));
    } catch (err) {
      this.set("failed");
      this.status(`Voice: ${errorText(err)}`);
    }
  }

  private track(call: VoiceCall): void {
    if (call.pc.signalingState === "closed") {
      this.set("closed"); // hung up before it was answered
      return;
    }
    this.call = call;
    this.button.dataset["call"] = call.callId; // which call the button drives
    if (call.remote) this.audio.srcObject = call.remote; // arrived while answering
    call.on("track", (s) => (this.audio.srcObject = s));
    call.on("state", (st) => {
      this.set(st);
      if (st === "closed" || st === "failed") this.call = undefined;
    });
  }

  private hangup(): void {
    this.call?.hangup();
    this.call = undefined;
  }

  private set(state: string): void {
    this.button.dataset["voice"] = state;
    this.button.textContent = state === "connected" ? "Hang up" : state === "closed" || state === "failed" ? "Voice" : `Voice: ${state}…`;
  }
}
