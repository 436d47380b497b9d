// DOM helpers for the demo page. Text from the network only ever goes into
// textContent or attribute values, never into HTML: a chat line holding
// "<script>" shows those characters.
import { errorMessage, TickroomError } from "../../src/index.js";

/** ElOptions are the optional parts of an element made by {@link el}. */
export interface ElOptions {
  /** cls is the class list, space separated. */
  cls?: string;
  /** text becomes the element's textContent. */
  text?: string;
  /** attrs are set with setAttribute. */
  attrs?: Record<string, string>;
}

/** el makes an element with classes, text, attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, opts: ElOptions = {}, ...children: Node[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (opts.cls) e.className = opts.cls;
  if (opts.text !== undefined) e.textContent = opts.text;
  for (const [k, v] of Object.entries(opts.attrs ?? {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

/** byId returns the element with that id, or throws: the page's markup is fixed. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`demo: no element #${id}`);
  return e as T;
}

/** show shows or hides an element with the hidden attribute. */
export function show(e: HTMLElement, on: boolean): void {
  e.hidden = !on;
}

/**
 * errorText is a short message for an error of any kind: the library's
 * human message for a TickroomError (never the protocol's enum name), the
 * browser's own message for anything else (a microphone refused).
 */
export function errorText(err: unknown): string {
  if (err instanceof TickroomError) return errorMessage(err);
  if (err instanceof Error) return err.message;
  return String(err);
}

/** shortId abbreviates a room or user id for display. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
