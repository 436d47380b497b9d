import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { TickroomError, type Client, type Room, type RoomWatch } from "../src/index.js";
import { ErrorCode } from "../src/gen/tickroom/v1/codes_pb.js";
import { LobbyView } from "../demo/src/lobby.js";
import { Rematch } from "../demo/src/rematch.js";
import { fakeNode, flush, useFakeDom } from "./fake-dom.js";

// The demo's lobby and rematch offer each start a room list watch. One the
// server refuses RATE_LIMITED (its address's room lists spent, as when
// every player behind a NAT comes back at once) showed "not live" and was
// never asked for again: it is asked again after the server's hint.

const refusal = () =>
  new TickroomError("server", "room lists asked too fast from this address", { serverCode: ErrorCode.RATE_LIMITED, retryAfterMs: 2000 });

// fakeClient refuses the first `refusals` watchRooms with refused (RATE_LIMITED
// unless given) and serves the next with an empty list.
function fakeClient(refusals: number, refused: () => TickroomError = refusal): { client: Client; asked: () => number } {
  let asked = 0;
  const watch = { rooms: [], on() {}, close: async () => {} } as unknown as RoomWatch;
  const client = {
    watchRooms: () => (++asked <= refusals ? Promise.reject(refused()) : Promise.resolve(watch)),
  } as unknown as Client;
  return { client, asked: () => asked };
}

describe("the demo's room list watches refused RATE_LIMITED", () => {
  useFakeDom();

  it("the lobby asks again after retry_after_ms and goes live", async () => {
    const { client, asked } = fakeClient(3);
    const live = fakeNode();
    const lobby = new LobbyView([], fakeNode() as HTMLUListElement, fakeNode(), fakeNode(), live, () => {});
    lobby.attach(client, "ann");
    lobby.start();
    for (let n = 1; n <= 3; n++) {
      await flush();
      assert.equal(asked(), n, `the lobby's watch refused RATE_LIMITED (retry_after_ms 2000) ${n - 1} times was not asked for again within 32 s`);
      assert.equal(live.dataset["state"], "off", `refusal ${n}: the list shows ${live.dataset["state"]}`);
      mock.timers.tick(1999);
      await flush();
      assert.equal(asked(), n, `refusal ${n}: asked again before the server's 2000 ms`);
      mock.timers.tick(30_000);
    }
    await flush();
    assert.equal(asked(), 4, "the lobby's watch refused RATE_LIMITED was not asked for again");
    assert.equal(live.dataset["state"], "live");
  });

  it("the lobby stopped while its retry waits asks no more", async () => {
    const { client, asked } = fakeClient(1);
    const lobby = new LobbyView([], fakeNode() as HTMLUListElement, fakeNode(), fakeNode(), fakeNode(), () => {});
    lobby.attach(client, "ann");
    lobby.start();
    await flush();
    lobby.stop();
    mock.timers.tick(60_000);
    await flush();
    assert.equal(asked(), 1, "a stopped lobby asked for its list again");
  });

  // A watch that comes after the user left the lobby (a room shown) was
  // kept, live behind the game view, and no later start asked for it.
  it("the lobby closes a watch that comes after it was stopped", async () => {
    let closed = 0;
    let serve: (w: RoomWatch) => void = () => {};
    const watch = { rooms: [], on() {}, close: async () => void closed++ } as unknown as RoomWatch;
    const client = { watchRooms: () => new Promise<RoomWatch>((r) => (serve = r)), on: () => () => {} } as unknown as Client;
    const lobby = new LobbyView([], fakeNode() as HTMLUListElement, fakeNode(), fakeNode(), fakeNode(), () => {});
    lobby.attach(client, "ann");
    lobby.start();
    lobby.stop();
    serve(watch);
    await flush();
    assert.equal(closed, 1, "the lobby stopped before its watch came kept it open");
  });

  // The lobby's status line said why its list was not live ("Room list:
  // …") and went on saying it once the list was live.
  it("the lobby clears what it said of its list once the list is live", async () => {
    let asked = 0;
    const watch = { rooms: [], on() {}, close: async () => {} } as unknown as RoomWatch;
    // A refusal the lobby does not ask again for by itself.
    const forbidden = new TickroomError("server", "room lists are not open to guests here", { serverCode: ErrorCode.FORBIDDEN });
    const client = {
      watchRooms: () => (++asked === 1 ? Promise.reject(forbidden) : Promise.resolve(watch)),
      on: () => () => {},
    } as unknown as Client;
    const status = fakeNode();
    const live = fakeNode();
    const lobby = new LobbyView([], fakeNode() as HTMLUListElement, status, fakeNode(), live, () => {});
    lobby.attach(client, "ann");
    lobby.start();
    await flush();
    assert.match(status.textContent ?? "", /^Room list:/);
    lobby.stop();
    lobby.start();
    await flush();
    assert.equal(live.dataset["state"], "live");
    assert.equal(status.textContent, "", "the list is live, and the lobby still says why it was not");
  });

  // A retry that came while the client was reconnecting was refused
  // not-connected, and the lobby stayed "not live" for good: it now asks
  // again on the client's next Welcome.
  it("the lobby asks again on the next Welcome for a retry refused while the client reconnects", async () => {
    let asked = 0;
    const welcomes: (() => void)[] = [];
    const watch = { rooms: [], on() {}, close: async () => {} } as unknown as RoomWatch;
    const offline = new TickroomError("not-connected", "tickroom: cannot send watchRooms while connecting");
    const client = {
      watchRooms: () => {
        asked++;
        if (asked === 1) return Promise.reject(refusal());
        if (asked === 2) return Promise.reject(offline);
        return Promise.resolve(watch);
      },
      on: (type: string, fn: () => void) => {
        if (type !== "welcome") return () => {};
        welcomes.push(fn);
        return () => welcomes.splice(welcomes.indexOf(fn) >>> 0, 1);
      },
    } as unknown as Client;
    const live = fakeNode();
    const lobby = new LobbyView([], fakeNode() as HTMLUListElement, fakeNode(), fakeNode(), live, () => {});
    lobby.attach(client, "ann");
    lobby.start();
    await flush();
    mock.timers.tick(30_000);
    await flush();
    assert.equal(asked, 2, "the lobby's watch refused RATE_LIMITED was not asked for again");
    for (const fn of [...welcomes]) fn();
    await flush();
    assert.equal(asked, 3, "a retry refused while the client reconnected was not asked for again on its Welcome");
    assert.equal(live.dataset["state"], "live");
  });

  // A first watch the server could not serve now (UNAVAILABLE: its room
  // directory out of reach on a node of a cluster; too many requests in
  // flight) or that timed out showed "not live" until the user came back
  // to the lobby: it is asked again after a growing wait.
  for (const [what, err] of [
    ["UNAVAILABLE", new TickroomError("server", "the room directory is unreachable; retry shortly", { serverCode: ErrorCode.UNAVAILABLE })],
    ["TOO_MANY_REQUESTS_IN_FLIGHT", new TickroomError("server", "too many lobby requests in flight", { serverCode: ErrorCode.TOO_MANY_REQUESTS_IN_FLIGHT })],
    ["a timeout", new TickroomError("timeout", "tickroom: watchRooms timed out")],
  ] as const) {
    it(`the lobby asks again for a watch refused ${what} and goes live`, async () => {
      const { client, asked } = fakeClient(3, () => err);
      const live = fakeNode();
      const lobby = new LobbyView([], fakeNode() as HTMLUListElement, fakeNode(), fakeNode(), live, () => {});
      lobby.attach(client, "ann");
      lobby.start();
      for (let n = 1; n <= 3; n++) {
        await flush();
        assert.equal(live.dataset["state"], "off", `refusal ${n}: the list shows ${live.dataset["state"]}`);
        mock.timers.tick(30_000);
      }
      await flush();
      assert.equal(asked(), 4, `the lobby's watch refused ${what} was not asked for again within 30 s`);
      assert.equal(live.dataset["state"], "live");
      lobby.stop();
    });
  }

  it("the rematch offer's watch asks again after retry_after_ms", async () => {
    const { client, asked } = fakeClient(2);
    const old = { id: "r1", game: "gomoku", spectator: false } as unknown as Room;
    const status = fakeNode();
    const rematch = new Rematch(client, old, { button: fakeNode() as HTMLButtonElement, status }, () => {});
    await flush();
    assert.match(status.textContent ?? "", /^Rematch offers:/);
    mock.timers.tick(30_000);
    await flush();
    mock.timers.tick(30_000);
    await flush();
    assert.equal(asked(), 3, "the rematch offer's watch refused RATE_LIMITED was not asked for again");
    assert.equal(status.textContent, "");
    rematch.dispose();
  });
});
