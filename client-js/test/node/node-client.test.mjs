// client-js in Node against the real server binary: Node 20 has fetch but
// no global WebSocket, so the `ws` package's class is passed in (Node 22's
// global WebSocket needs nothing). The library is the browser bundle,
// which uses nothing of the browser's but fetch and WebSocket.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { startServer } from "../browser/tickroom-server.mjs";

const lib = await import("../../dist/browser/tickroom.js");
const { connect, login, webSocketUrl, TickroomError } = lib;

// BrowserLikeWebSocket hides the refused upgrade's status, as browsers do,
// so the client must ask the server's HTTP side.
class BrowserLikeWebSocket extends WebSocket {
  set onerror(fn) {
    super.onerror = fn ? () => fn({ type: "error" }) : null;
  }
  get onerror() {
    return super.onerror;
  }
}

describe("client-js in Node", () => {
  let srv;
  before(async () => {
    // Its tests log in more guests from one address than the default
    // guest login burst lets one client make.
    srv = await startServer(["-guest-login-rate", "inf"]);
  });
  after(() => srv?.stop());

  it("logs in, finds the WebSocket URL from /v1/config, connects and plays", async () => {
    const session = await login("nodey", { baseUrl: srv.httpUrl });
    const url = await webSocketUrl(srv.httpUrl);
    assert.equal(url, `ws://${srv.wsAddr}/v1/ws`);
    const client = await connect({ url, token: session.token, WebSocket });
    try {
      assert.equal(client.welcome.name, "nodey");
      const room = await client.quickMatch("gomoku");
      assert.equal(room.game, "gomoku");
      assert.ok(room.seat >= 1);
    } finally {
      client.close();
    }
  });

  // The client declares its version in the upgrade; the server serves it,
  // and closes one that declares a version it does not serve with 4507,
  // which ends the client for good with the page's "out of date" message.
  it("declares its protocol version, and a version the server does not serve ends it for good", async () => {
    const session = await login("versioned", { baseUrl: srv.httpUrl });
    const client = await connect({ url: `ws://${srv.wsAddr}/v1/ws`, token: session.token, WebSocket });
    assert.equal(client.welcome.protocolVersion, lib.PROTOCOL_VERSION);
    client.close();
    // An old page as the server sees it: the first protocol_version counts.
    const err = await connect({ url: `ws://${srv.wsAddr}/v1/ws?protocol_version=1`, token: session.token, WebSocket, maxReconnectAttempts: 50 }).then(
      (c) => {
        c.close();
        assert.fail("connected");
      },
      (e) => e,
    );
    assert.ok(err instanceof TickroomError, String(err));
    assert.equal(err.code, "closed");
    assert.equal(err.close.name, "UNSUPPORTED_VERSION");
    assert.match(err.message, /client speaks protocol version 1, server speaks 2/);
    assert.equal(lib.errorMessage(err), "This page is out of date. Reload it to get the new version.");
  });

  // A watch pass opens its private room's feed and nothing else: the
  // member's session token is not what a watch link carries any more.
  // (On a server of its own: the suite's logins use up an address's guest
  // login burst.)
  it("gets a watch pass that opens a private room's feed and is no login", async () => {
    const srv = await startServer();
    const session = await login("passer", { baseUrl: srv.httpUrl });
    const client = await connect({ url: `ws://${srv.wsAddr}/v1/ws`, token: session.token, WebSocket });
    try {
      const room = await client.createRoom({ game: "gomoku", private: true });
      const wp = await client.watchPass(room.id);
      assert.equal(wp.roomId, room.id);
      assert.ok(Number(wp.expiresAtMs) > Date.now() + 59 * 60_000, `expires at ${wp.expiresAtMs}`);
      const feed = (q) => fetch(`${srv.httpUrl}/v1/rooms/${encodeURIComponent(room.id)}/events?${q}`);
      const ok = await feed(`pass=${encodeURIComponent(wp.pass)}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("content-type"), "text/event-stream");
      await ok.body.cancel();
      const asPass = await feed(`pass=${encodeURIComponent(session.token)}`);
      assert.equal(asPass.status, 401, "a session token is no pass");
      await asPass.body.cancel();
      const err = await connect({ url: `ws://${srv.wsAddr}/v1/ws`, token: wp.pass, WebSocket, maxReconnectAttempts: 50 }).then(
        (c) => {
          c.close();
          assert.fail("a watch pass logged in");
        },
        (e) => e,
      );
      assert.ok(err instanceof TickroomError, String(err));
      assert.equal(err.code, "unauthorized");
    } finally {
      client.close();
      await srv.stop();
    }
  });

  const refusals = [
    { name: "a forged token", path: "/v1/ws", token: "k1.forged.token", code: "unauthorized", says: "log in again" },
    { name: "a path with no endpoint", path: "/v2/ws", token: undefined, code: "misconfigured", says: "no tickroom endpoint at ws://" },
  ];
  for (const WS of [WebSocket, BrowserLikeWebSocket]) {
    for (const r of refusals) {
      it(`rejects ${r.name} at once (${WS.name})`, async () => {
        const token = r.token ?? (await login("refused", { baseUrl: srv.httpUrl })).token;
        const url = `ws://${srv.wsAddr}${r.path}`;
        const started = Date.now();
        const err = await connect({ url, token, WebSocket: WS, httpUrl: srv.httpUrl, maxReconnectAttempts: 50 }).then(
          (c) => {
            c.close();
            assert.fail("connected");
          },
          (e) => e,
        );
        assert.ok(err instanceof TickroomError, String(err));
        assert.equal(err.code, r.code);
        assert.ok(err.message.includes(r.says), err.message);
        assert.equal(err.url, url);
        // One attempt, not a backoff series (50 attempts would take minutes).
        assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      });
    }
  }

  // A kicked or banned user's token is refused at the upgrade (403), which
  // a browser cannot see: the session check must say so, or the page
  // retries for ever.
  for (const sanction of ["kick", "ban"]) {
    it(`stops retrying a ${sanction === "ban" ? "banned" : "kicked"} session's token, as a browser sees it`, async () => {
      const admin = await startServer(["-admin-token", "node-client-admin"]);
      try {
        const session = await login(`${sanction}ed`, { baseUrl: admin.httpUrl });
        const url = `ws://${admin.wsAddr}/v1/ws`;
        const opts = { url, token: session.token, WebSocket: BrowserLikeWebSocket, httpUrl: admin.httpUrl, backoff: { initialMs: 50, maxMs: 100 }, maxReconnectAttempts: 20 };
        const client = await connect(opts);
        const closed = new Promise((r) => client.on("close", (c) => !c.willReconnect && r(c)));
        const res = await fetch(`${await admin.adminUrl}/v1/admin/players/${session.userId}/${sanction}`, { method: "POST", headers: { authorization: "Bearer node-client-admin" } });
        assert.ok(res.ok, `${res.status} ${await res.text()}`);
        assert.equal((await closed).code, sanction === "kick" ? 4503 : 4504);
        // The page reloads with the token it kept.
        const err = await connect({ ...opts, onListenerError: () => {} }).then(
          (c) => {
            c.close();
            assert.fail("connected");
          },
          (e) => e,
        );
        assert.ok(err instanceof TickroomError, String(err));
        assert.equal(err.code, "unauthorized", err.message);
        assert.ok(err.message.includes(sanction === "kick" ? "kick" : "banned"), err.message);
      } finally {
        await admin.stop();
      }
    });
  }

  // A shared browser: ann logs in with her claimed name and password;
  // whoever logs in as a guest after her on that browser must not come
  // back as ann, as the device secret her password login returned would
  // bring them, were it kept for guest logins.
  it("keeps no device secret from a password login, so a later guest on the browser is not that account", async () => {
    const kept = new Map();
    const shared = {
      getItem: (k) => kept.get(k) ?? null,
      setItem: (k, v) => void kept.set(k, v),
      removeItem: (k) => void kept.delete(k),
    };
    const name = `ann${randomBytes(3).toString("hex")}`;
    const password = "correct horse battery";
    const first = await login(name, { baseUrl: srv.httpUrl, storage: null });
    const claim = await fetch(`${srv.httpUrl}/v1/account/claim`, {
      method: "POST",
      headers: { authorization: `Bearer ${first.token}`, "content-type": "application/json" },
      // A guest's claim needs its device secret: a session token alone
      // (WebSocket URLs carry it) does not give the account away.
      body: JSON.stringify({ name, password, device_secret: first.deviceSecret }),
    });
    assert.equal(claim.status, 200, await claim.text());

    const ann = await login({ name, password }, { baseUrl: srv.httpUrl, storage: shared });
    assert.equal(ann.userId, first.userId);
    assert.equal(ann.guest, false);
    assert.ok(ann.deviceSecret, "the session still carries the secret, for an app that offers to remember the login");
    assert.deepEqual([...kept.values()], [], "the password login kept nothing in the browser's storage");

    const bob = await login("bob", { baseUrl: srv.httpUrl, storage: shared });
    assert.notEqual(bob.userId, ann.userId, "a later guest login is a new guest, not ann");
    assert.equal(bob.name, "bob");
    assert.equal(bob.guest, true);
  });

  it("rejects a malformed URL before opening a socket", async () => {
    let opened = 0;
    class Counting extends WebSocket {
      constructor(...a) {
        super(...a);
        opened++;
      }
    }
    const err = await connect({ url: "ws//127.0.0.1/v1/ws", token: "t", WebSocket: Counting }).catch((e) => e);
    assert.equal(err.code, "misconfigured");
    assert.equal(opened, 0);
  });

  // The socket drops after Joined and before the room's first keyframe:
  // the client holds no state, yet resumes. It must end up with the
  // server's state (a keyframe), not be taken as holding some tick.
  it("resumes a room whose first keyframe never arrived and gets its state", async () => {
    const url = `ws://${srv.wsAddr}/v1/ws`;
    const session = await login("lossy", { baseUrl: srv.httpUrl });
    let dropStates = true;
    // Lossy loses every State (ServerMessage field 2, tag 0x12) while dropStates.
    class Lossy extends WebSocket {
      set onmessage(fn) {
        super.onmessage = fn ? (ev) => (dropStates && new Uint8Array(ev.data)[0] === 0x12 ? undefined : fn(ev)) : null;
      }
      get onmessage() {
        return super.onmessage;
      }
    }
    const client = await connect({ url, token: session.token, WebSocket: Lossy, desyncRecoveryMs: 60_000 });
    try {
      const room = await client.createRoom({ game: "gomoku" });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(room.tick, undefined, "a state got through");
      dropStates = false;
      const keyframes = [];
      room.on("state", ({ result }) => keyframes.push(result.keyframe));
      client.connection.reconnectNow(4003, "test");
      for (let waited = 0; room.tick === undefined && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      assert.notEqual(room.tick, undefined, "no state within 3 s of the reconnect");
      assert.equal(keyframes[0], true);
      assert.equal(room.resuming, false);
      assert.equal(room.store.needsKeyframe, false);
    } finally {
      client.close();
    }
  });

  // A page reloaded mid-match finds its seat in welcome.seats; a player who
  // abandons gives it up with client.leaveRoom, without resuming it, and
  // the seat is free for someone else at once, not after the resume window.
  it("gives up a seat held from before a reload without resuming it", async () => {
    const url = `ws://${srv.wsAddr}/v1/ws`;
    const [ann, ben, cy] = await Promise.all(["heldann", "heldben", "heldcy"].map((n) => login(n, { baseUrl: srv.httpUrl })));
    const first = await connect({ url, token: ann.token, WebSocket });
    const room = await first.createRoom({ game: "arena", maxPlayers: 2 });
    const bc = await connect({ url, token: ben.token, WebSocket });
    const cc = await connect({ url, token: cy.token, WebSocket });
    let again;
    try {
      const benRoom = await bc.joinRoom(room.id);
      first.close(); // the page goes away; the server holds ann's seat
      const full = await cc.joinRoom(room.id).then(
        () => undefined,
        (err) => err,
      );
      assert.equal(full?.serverCode, lib.pb.ErrorCode.ROOM_FULL, `a third player while ann's seat is held: ${full?.message}`);
      again = await connect({ url, token: ann.token, WebSocket });
      assert.deepEqual(
        again.welcome.seats.map((s) => s.roomId),
        [room.id],
      );
      await again.leaveRoom(room.id);
      assert.equal(again.rooms.size, 0);
      for (let waited = 0; benRoom.players.has(room.seat) && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      assert.equal(benRoom.players.has(room.seat), false, "ben still sees ann's seat 5 s after she gave it up");
      const cyRoom = await cc.joinRoom(room.id);
      assert.equal(cyRoom.seat, room.seat);
      await assert.rejects(again.leaveRoom(room.id), (err) => err.serverCode === lib.pb.ErrorCode.NOT_IN_ROOM);
    } finally {
      for (const c of [first, bc, cc, again]) c?.close();
    }
  });

  it("keeps a watched room list live from the server's pushes, across a reconnect", async () => {
    const url = `ws://${srv.wsAddr}/v1/ws`;
    const [watcherSession, playerSession] = await Promise.all([login("watcher", { baseUrl: srv.httpUrl }), login("player", { baseUrl: srv.httpUrl })]);
    const watcher = await connect({ url, token: watcherSession.token, WebSocket, backoff: { initialMs: 50, maxMs: 200 } });
    const player = await connect({ url, token: playerSession.token, WebSocket });
    try {
      const watch = await watcher.watchRooms({ game: "arena" });
      const until = (what, cond) =>
        new Promise((resolve, reject) => {
          if (cond(watch.rooms)) return resolve(watch.rooms);
          const timer = setTimeout(() => reject(new Error(`no ${what}: ${JSON.stringify(watch.rooms.map((r) => [r.roomId, r.players]))}`)), 10_000);
          const off = watch.on("change", ({ rooms }) => {
            if (!cond(rooms)) return;
            clearTimeout(timer);
            off();
            resolve(rooms);
          });
        });
      const room = await player.createRoom({ game: "arena" });
      await until("new room with its player", (rooms) => rooms.some((r) => r.roomId === room.id && r.players === 1));
      // A gomoku room is outside the filter.
      const other = await player.createRoom({ game: "gomoku" });
      // The watcher's socket drops; the client re-subscribes, and the list
      // follows the room leaving.
      watcher.connection.reconnectNow(4003, "test");
      await new Promise((resolve) => watcher.once("welcome", resolve));
      await room.leave();
      await until("closed room gone", (rooms) => !rooms.some((r) => r.roomId === room.id));
      assert.ok(!watch.rooms.some((r) => r.roomId === other.id), "gomoku room in an arena watch");
      await watch.close();
      assert.equal(watch.closed, true);
    } finally {
      watcher.close();
      player.close();
    }
  });
  // Chat.id is for de-duplication (social.proto): a page keeps the ids it
  // showed and skips a line it has. A lobby channel closes with its last
  // member and opens again on the next join (or after a restart), with its
  // kept lines read back from the store: those must come back with the ids
  // they had, and new lines must not take ids the members saw before, or a
  // page open across it shows the history again and never shows the new
  // lines.
  it("numbers a reopened lobby channel's lines past the ids its members saw, kept lines with their own", async () => {
    const session = await login("chatty", { baseUrl: srv.httpUrl, storage: null });
    const client = await connect({ url: `ws://${srv.wsAddr}/v1/ws`, token: session.token, WebSocket });
    try {
      const seen = [];
      client.on("chat", (c) => c.channel === "reopen" && seen.push(c));
      const lines = (n) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${seen.length} lines, not ${n}`)), 10_000);
          const check = () => {
            if (seen.length < n) return;
            clearTimeout(timer);
            off();
            resolve();
          };
          const off = client.on("chat", check);
          check();
        });
      await client.joinChannel("reopen");
      for (const text of ["one", "two", "three"]) await client.sendChat({ channel: "reopen" }, text);
      await lines(3);
      await client.leaveChannel("reopen"); // its only member: the channel closes
      await new Promise((r) => setTimeout(r, 500)); // the store writes the lines
      const history = await client.joinChannel("reopen");
      const idText = (ls) => ls.map((l) => `${l.id} ${l.text}`);
      assert.deepEqual(idText(history.lines), idText(seen));
      await client.sendChat({ channel: "reopen" }, "four");
      await lines(4);
      assert.ok(seen[3].id > seen[2].id, `line after reopening has id ${seen[3].id}, the last before ${seen[2].id}`);
    } finally {
      client.close();
    }
  });
  // DirectMessage.id is unique per sender (social.proto), and the demo page
  // skips a direct message whose sender and id it showed: after a server
  // restart (one session key, so the pages' tokens still work) a sender's
  // new messages must not take the ids of its earlier ones.
  it("numbers direct messages past a restart without repeating a sender's ids", async () => {
    const env = { TICKROOM_TOKEN_KEY: randomBytes(32).toString("hex") };
    const ids = [];
    let token = {};
    for (let run = 0; run < 2; run++) {
      const s = await startServer(["-data-dir", ""], { env });
      try {
        if (run === 0) {
          token.ann = (await login("dm-ann", { baseUrl: s.httpUrl, storage: null })).token;
          token.bob = (await login("dm-bob", { baseUrl: s.httpUrl, storage: null })).token;
        }
        const url = `ws://${s.wsAddr}/v1/ws`;
        const ann = await connect({ url, token: token.ann, WebSocket });
        const bob = await connect({ url, token: token.bob, WebSocket });
        try {
          const got = new Promise((resolve) => ann.once("direct", resolve));
          await bob.sendDirect(ann.welcome.userId, `run ${run}`);
          ids.push((await got).id);
        } finally {
          ann.close();
          bob.close();
        }
      } finally {
        await s.stop();
      }
    }
    assert.notEqual(ids[1], ids[0], "the sender's message after the restart took the id of its message before");
  });
});
