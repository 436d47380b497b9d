import { fromBinary, toJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";

/**
 * StateSchema names the protobuf messages a game writes into its state, the
 * client's twin of the server's `game.Schema`: with it the inspector shows
 * entities and globals as fields; without it (or for an id it does not
 * know) they show as bytes.
 */
export interface StateSchema {
  /** globals is the message type of the room globals. */
  globals?: DescMessage;
  /** entity returns the message type of the entity with this id, or undefined when unknown. */
  entity?: (id: bigint) => DescMessage | undefined;
}

/**
 * Decoded is a value somebody already decoded to protobuf JSON, as the
 * admin API's room state answers it: the inspector shows it as is.
 */
export interface Decoded {
  /** json is the value in protobuf's JSON mapping. */
  json: JsonValue;
  /** type is the message's full name, when known. */
  type?: string;
}

/** StateValue is an entity's or the globals' value: encoded bytes, or already decoded. */
export type StateValue = Uint8Array | Decoded;

/**
 * InspectableState is what the inspector reads. A {@link StateStore} (and
 * so `room.store`) is one as it is; the admin API's answer becomes one with
 * {@link fromAdminState}.
 */
export interface InspectableState {
  /** tick is the tick that produced the state; undefined before the first keyframe. */
  readonly tick?: bigint | number | undefined;
  /** globals are the room's globals; empty bytes or undefined for none. */
  readonly globals?: StateValue | undefined;
  /** entities maps each entity id to its value. */
  readonly entities: Iterable<readonly [bigint | number | string, StateValue]>;
}

/** InspectOptions tune {@link inspectState}. */
export interface InspectOptions {
  /** schema decodes bytes; without it every value shows as bytes. */
  schema?: StateSchema;
  /** maxEntities caps the entities listed, the rest counted in a note. Default 500. */
  maxEntities?: number;
  /** maxHexBytes caps the bytes shown in hex per value. Default 64. */
  maxHexBytes?: number;
}

/**
 * InspectNode is one node of the inspector's tree. Every node has a key
 * (its label under its parent) and a path (the keys from the root joined
 * by "/", stable across updates, so a view can keep a node open while the
 * state changes under it).
 *   - "group": a message, an object, a list or a section, with children and
 *     a one-line summary ("arena.v1.Player", "3 items");
 *   - "value": a scalar: its JSON type and its text;
 *   - "bytes": undecoded bytes: their length and the first bytes in hex,
 *     with a note saying why they were not decoded.
 */
export type InspectNode =
  | { kind: "group"; key: string; path: string; summary: string; children: InspectNode[] }
  | { kind: "value"; key: string; path: string; type: "string" | "number" | "boolean" | "null"; text: string }
  | { kind: "bytes"; key: string; path: string; length: number; hex: string; truncated: boolean; note: string };

const defaultMaxEntities = 500;
const defaultMaxHexBytes = 64;

/**
 * inspectState turns a room's state into a tree: the tick, the globals and
 * one node per entity in ascending id order, each decoded with the
 * options' schema when it names the value's type and the bytes parse as
 * that message, else shown as bytes. It is a pure function of its input.
 */
export function inspectState(state: InspectableState, options: InspectOptions = {}): InspectNode {
  const schema = options.schema ?? {};
  const maxEntities = Math.max(0, options.maxEntities ?? defaultMaxEntities);
  const maxHex = Math.max(0, options.maxHexBytes ?? defaultMaxHexBytes);

  const ids: [bigint, StateValue][] = [];
  for (const [id, v] of state.entities) ids.push([BigInt(id), v]);
  ids.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

  const root: InspectNode[] = [];
  root.push({
    kind: "value",
    key: "tick",
    path: "tick",
    type: state.tick === undefined ? "null" : "number",
    text: state.tick === undefined ? "none yet" : String(state.tick),
  });
  const g = state.globals;
  if (g === undefined || (g instanceof Uint8Array && g.length === 0)) {
    root.push({ kind: "value", key: "globals", path: "globals", type: "null", text: "none" });
  } else {
    root.push(valueNode("globals", "globals", g, schema.globals, maxHex));
  }
  const shown = ids.slice(0, maxEntities).map(([id, v]) => {
    const key = id.toString();
    return valueNode(key, `entities/${key}`, v, schema.entity?.(id), maxHex);
  });
  if (ids.length > shown.length) {
    const more = ids.length - shown.length;
    shown.push({ kind: "value", key: "…", path: "entities/…", type: "null", text: `${more} more not shown` });
  }
  root.push({ kind: "group", key: "entities", path: "entities", summary: plural(ids.length, "entity", "entities"), children: shown });
  return { kind: "group", key: "state", path: "", summary: `tick ${state.tick ?? "none"}`, children: root };
}

/** valueNode shows one entity or the globals. */
function valueNode(key: string, path: string, v: StateValue, type: DescMessage | undefined, maxHex: number): InspectNode {
  if (!(v instanceof Uint8Array)) {
    return jsonNode(key, path, v.json, v.type);
  }
  if (!type) return bytesNode(key, path, v, maxHex, "no schema for this value");
  let json: JsonValue;
  try {
    json = toJson(type, fromBinary(type, v), { alwaysEmitImplicit: true, useProtoFieldName: true });
  } catch (err) {
    return bytesNode(key, path, v, maxHex, `not a ${type.typeName}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return jsonNode(key, path, json, type.typeName);
}

/** jsonNode shows a JSON value; typeName, when given, is the group's summary. */
function jsonNode(key: string, path: string, v: JsonValue, typeName?: string): InspectNode {
  if (v === null) return { kind: "value", key, path, type: "null", text: "null" };
  if (Array.isArray(v)) {
    return {
      kind: "group",
      key,
      path,
      summary: typeName ?? plural(v.length, "item", "items"),
      children: v.map((x, i) => jsonNode(String(i), `${path}/${i}`, x)),
    };
  }
  switch (typeof v) {
    case "object": {
      const keys = Object.keys(v);
      return {
        kind: "group",
        key,
        path,
        summary: typeName ?? plural(keys.length, "field", "fields"),
        children: keys.map((k) => jsonNode(k, `${path}/${k}`, v[k] as JsonValue)),
      };
    }
    case "string":
      return { kind: "value", key, path, type: "string", text: v };
    case "number":
      return { kind: "value", key, path, type: "number", text: String(v) };
    case "boolean":
      return { kind: "value", key, path, type: "boolean", text: String(v) };
  }
  return { kind: "value", key, path, type: "null", text: String(v) };
}

function bytesNode(key: string, path: string, b: Uint8Array, maxHex: number, note: string): InspectNode {
  const n = Math.min(b.length, maxHex);
  let hex = "";
  for (let i = 0; i < n; i++) hex += (i > 0 ? " " : "") + b[i]!.toString(16).padStart(2, "0");
  return { kind: "bytes", key, path, length: b.length, hex, truncated: n < b.length, note };
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * AdminRoomState is the JSON of the admin API's
 * `GET /v1/admin/rooms/{id}/state`: entity ids as decimal strings, each
 * value decoded by the game's schema (`value`, with its `type`) or as
 * base64 `bytes` when the game declares none.
 */
export interface AdminRoomState {
  room: string;
  game: string;
  tick: number | string;
  globals?: JsonValue;
  globals_type?: string;
  globals_bytes?: string;
  entities: { id: string | number; type?: string; value?: JsonValue; bytes?: string }[];
}

/**
 * fromAdminState turns the admin API's room state into an
 * {@link InspectableState}: decoded values stay decoded, base64 bytes
 * become bytes.
 */
export function fromAdminState(s: AdminRoomState): InspectableState {
  let globals: StateValue | undefined;
  if (s.globals !== undefined) globals = s.globals_type ? { json: s.globals, type: s.globals_type } : { json: s.globals };
  else if (s.globals_bytes !== undefined) globals = base64Bytes(s.globals_bytes);
  return {
    tick: BigInt(s.tick),
    globals,
    entities: s.entities.map((e): [string | number, StateValue] => [
      e.id,
      e.value !== undefined ? (e.type ? { json: e.value, type: e.type } : { json: e.value }) : base64Bytes(e.bytes ?? ""),
    ]),
  };
}

function base64Bytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
