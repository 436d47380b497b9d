// The options of Client's requests.

/** CreateRoomOptions are the fields of a CreateRoom request. */
export interface CreateRoomOptions {
  game: string;
  options?: Record<string, string>;
  metadata?: Record<string, string>;
  password?: string;
  maxPlayers?: number;
  private?: boolean;
  spectate?: boolean;
}

/** MatchHistoryOptions select a page of {@link Client.matchHistory}. */
export interface MatchHistoryOptions {
  /** userId is the player; absent means the caller. */
  userId?: string;
  /** before continues a listing: the previous page's nextBeforeId. Absent starts from the newest. */
  before?: bigint | number;
  /** limit is the page size; absent means 20, and the server caps it at 50. */
  limit?: number;
}

/** ChannelHistoryOptions select a page of {@link Client.channelHistory}. */
export interface ChannelHistoryOptions {
  /** before continues a listing: the previous page's nextBefore. Absent starts from the newest. */
  before?: bigint | number;
  /** limit is the page size; absent means 50, and the server refuses more than 500. */
  limit?: number;
}

/** ListRoomsFilter narrows a room listing; every field set must match. */
export interface ListRoomsFilter {
  game?: string;
  metadata?: Record<string, string>;
  freeSeatsOnly?: boolean;
  limit?: number;
  pageToken?: string;
}
