import { TickroomError } from "./errors.js";
import { Client, type ClientOptions } from "./client.js";

/**
 * connect opens a connection and resolves with the Client once the server's
 * Welcome arrived. It rejects with a TickroomError:
 *   - "misconfigured" at once for a malformed URL, and when the server has
 *     no tickroom endpoint at the URL (404) or refuses the page's origin
 *     (403); the message names the URL;
 *   - "unauthorized" when the server refuses the session token (401, or
 *     close code 4500/4501): log in again;
 *   - "closed", with the close code, when the server closes for good
 *     otherwise or reconnecting gives up before a Welcome.
 */
export function connect(options: ClientOptions): Promise<Client> {
  let client: Client;
  try {
    client = new Client(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<Client>((resolve, reject) => {
    const offWelcome = client.once("welcome", () => {
      offClose();
      resolve(client);
    });
    const offClose = client.on("close", (c) => {
      if (c.willReconnect) return;
      offWelcome();
      offClose();
      if (c.error) {
        reject(c.error);
        return;
      }
      const message = `tickroom: connection closed before welcome: ${c.code} ${c.info.name} ${c.reason}`.trim();
      const session = c.code === 4500 || c.code === 4501;
      reject(new TickroomError(session ? "unauthorized" : "closed", message, { close: c.info, url: client.connection.url }));
    });
    client.open();
  });
}
