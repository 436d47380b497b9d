// The watch page's words for why a spectator feed ended: the reason of its
// "end" event (protocol/README.md, Spectator feed).

/** feedEndMessage is the status the watch page shows for an end reason. */
export function feedEndMessage(reason: string): string {
  switch (reason) {
    case "room_closed":
      return "the room closed";
    case "server_shutdown":
      return "the server shut down; reload the page in a moment";
    // kicked, banned, signed_out and token_expired end a feed opened with
    // a member's session token (a watch.html?token= link).
    case "kicked":
      return "stream ended: this link's account was kicked from the server";
    case "banned":
      return "stream ended: this link's account was banned from the server";
    case "signed_out":
      return "stream ended: this link's account signed out (its password was changed)";
    case "token_expired":
      return "stream ended: this link's login expired; ask a player for a new watch link";
    default:
      return "stream ended";
  }
}
