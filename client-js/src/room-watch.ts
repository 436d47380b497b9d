import { Emitter } from "./emitter.js";
import type { TickroomError } from "./errors.js";
import type { RoomInfo, RoomList, RoomListUpdate } from "./gen/tickroom/v1/lobby_pb.js";

/** RoomWatchFilter selects the rooms of a watched list; every field set must match. */
export interface RoomWatchFilter {
  game?: string;
  metadata?: Record<string, string>;
  freeSeatsOnly?: boolean;
  /** limit caps the rooms in the list; absent or 0 means the server's default. */
  limit?: number;
}

/** RoomWatchEvents are the events a {@link RoomWatch} emits. */
export interface RoomWatchEvents {
  /** change follows every list the server sent or changed, with the rooms ordered by id. */
  change: { rooms: RoomInfo[] };
  /** error reports a re-subscription refused after a reconnect; the list stays as it was. */
  error: TickroomError;
}

/** RoomWatchHost is what a RoomWatch needs of its client. */
export interface RoomWatchHost {
  unwatch(watch: RoomWatch): Promise<void>;
}

/**
 * RoomWatch is a live room list (Client.watchRooms): the server pushes
 * every room that joins, changes or leaves the list, at most a few times a
 * second, and the client re-subscribes after a reconnect. Listen to
 * "change", read rooms, and close it when the list is no longer shown.
 */
export class RoomWatch extends Emitter<RoomWatchEvents> {
  /** id is the watch's WatchRooms.watch_id on this connection. */
  readonly id: number;
  /** filter is what the watch selects. */
  readonly filter: Readonly<RoomWatchFilter>;
  private readonly map = new Map<string, RoomInfo>();
  private closedFlag = false;

  /** RoomWatch's constructor is the client's; use Client.watchRooms. */
  constructor(
    private readonly host: RoomWatchHost,
    id: number,
    filter: RoomWatchFilter,
    onListenerError?: (err: unknown) => void,
  ) {
    super(onListenerError);
    this.id = id;
    this.filter = filter;
  }

  /** rooms are the rooms in the list, ordered by id. */
  get rooms(): RoomInfo[] {
    return [...this.map.values()].sort((a, b) => (a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0));
  }

  /** closed is true once close was called. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** close ends the subscription; it resolves when the server confirmed (or the connection is gone). */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.removeAllListeners();
    await this.host.unwatch(this);
  }

  /** handleList replaces the list with a RoomList (the reply to WatchRooms). Called by the client. */
  handleList(list: RoomList): void {
    this.map.clear();
    for (const r of list.rooms) this.map.set(r.roomId, r);
    this.emit("change", { rooms: this.rooms });
  }

  /** handleUpdate applies a RoomListUpdate. Called by the client. */
  handleUpdate(u: RoomListUpdate): void {
    for (const id of u.removed) this.map.delete(id);
    for (const r of u.upserted) this.map.set(r.roomId, r);
    this.emit("change", { rooms: this.rooms });
  }

  /** handleError reports a refused re-subscription. Called by the client. */
  handleError(err: TickroomError): void {
    this.emit("error", err);
  }
}
