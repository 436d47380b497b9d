import type { WebSocketLike } from "../src/connection.js";

/**
 * FakeWebSocket stands in for the browser's WebSocket in unit tests: every
 * instance is recorded, and the test plays the server by calling serverOpen,
 * serverSend and serverClose.
 */
export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];

  /** reset forgets every instance; call it in beforeEach. */
  static reset(): void {
    FakeWebSocket.instances = [];
  }

  /** last is the newest socket. */
  static last(): FakeWebSocket {
    const s = FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
    if (!s) throw new Error("no socket was opened");
    return s;
  }

  readonly url: string;
  readonly protocols: string | string[] | undefined;
  binaryType = "blob";
  readyState = 0;
  bufferedAmount = 0;
  sent: Uint8Array[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(url: string, protocols?: string | string[]) {
    this.url = url;
    this.protocols = protocols;
    FakeWebSocket.instances.push(this);
  }

  send(data: Uint8Array | ArrayBuffer): void {
    if (this.readyState !== 1) throw new Error("InvalidStateError: socket not open");
    this.sent.push(data instanceof Uint8Array ? data.slice() : new Uint8Array(data.slice(0)));
  }

  close(code?: number, reason?: string): void {
    // As a browser does (WebSocket.close), which closes nothing then: a
    // code other than 1000 and 3000-4999, or a reason over 123 bytes.
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) throw new Error(`InvalidAccessError: close code ${code}`);
    if (reason !== undefined && new TextEncoder().encode(reason).length > 123) throw new Error("SyntaxError: close reason over 123 bytes");
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  serverOpen(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  serverSend(bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.onmessage?.({ data: copy.buffer });
  }

  serverSendText(text: string): void {
    this.onmessage?.({ data: text });
  }

  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
