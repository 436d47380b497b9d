import type { InspectNode } from "./inspector.js";

/** InspectorViewOptions tune an {@link InspectorView}. */
export interface InspectorViewOptions {
  /**
   * openDepth is how deep groups start open the first time they show
   * (the root is depth 0, globals and entities 1). Default 2: the root and
   * the sections are open, each entity closed until clicked.
   */
  openDepth?: number;
}

/**
 * InspectorView draws an {@link InspectNode} tree into an element as nested
 * `<details>` (groups) and rows (values and bytes), with text only, never
 * markup from the state, and no inline style, so it works under a strict
 * Content-Security-Policy. Each {@link update} changes in place what
 * changed and keeps open the groups the user opened (and closed those
 * they closed), by path.
 *
 * Elements carry classes for styling — `tr-inspector` on the container,
 * `tr-group`, `tr-value` (with `tr-string`, `tr-number`, `tr-boolean` or
 * `tr-null`), `tr-bytes`, `tr-key`, `tr-summary`, `tr-note` — and a
 * `data-path` attribute with the node's path, for tests and links.
 *
 * Use it from the page's main thread.
 */
export class InspectorView {
  private readonly openState = new Map<string, boolean>();
  private readonly openDepth: number;

  constructor(
    readonly element: HTMLElement,
    options: InspectorViewOptions = {},
  ) {
    this.openDepth = options.openDepth ?? 2;
    element.classList.add("tr-inspector");
  }

  /**
   * update shows tree. Elements whose node kept its path are kept and
   * changed in place (only the text that changed is rewritten), so a
   * selection, a focus or an open group survives a live state's updates.
   */
  update(tree: InspectNode): void {
    const doc = this.element.ownerDocument;
    const old = this.element.firstElementChild as HTMLElement | null;
    const el = this.node(doc, tree, 0, old ?? undefined);
    if (el !== old) this.element.replaceChildren(el);
  }

  /** clear empties the view; remembered open groups stay remembered. */
  clear(): void {
    this.element.replaceChildren();
  }

  private node(doc: Document, n: InspectNode, depth: number, old: HTMLElement | undefined): HTMLElement {
    if (n.kind === "group") {
      let d: HTMLDetailsElement;
      let keyEl: HTMLElement;
      let summaryEl: HTMLElement;
      if (old && old.tagName === "DETAILS" && old.dataset["path"] === n.path) {
        d = old as HTMLDetailsElement;
        const s = d.firstElementChild!;
        keyEl = s.children[0] as HTMLElement;
        summaryEl = s.children[1] as HTMLElement;
      } else {
        d = doc.createElement("details");
        d.className = "tr-group";
        d.dataset["path"] = n.path;
        d.open = this.openState.get(n.path) ?? depth < this.openDepth;
        const s = doc.createElement("summary");
        keyEl = span(doc, "tr-key", "");
        summaryEl = span(doc, "tr-summary", "");
        s.append(keyEl, " ", summaryEl);
        d.append(s);
        d.addEventListener("toggle", () => this.openState.set(n.path, d.open));
      }
      setText(keyEl, n.key);
      setText(summaryEl, n.summary);
      const current = Array.from(d.children).slice(1) as HTMLElement[];
      const byPath = new Map<string, HTMLElement>();
      for (const c of current) byPath.set(c.dataset["path"] ?? "", c);
      const kids = n.children.map((c) => this.node(doc, c, depth + 1, byPath.get(c.path)));
      if (kids.length !== current.length || kids.some((k, i) => k !== current[i])) {
        d.replaceChildren(d.firstElementChild!, ...kids);
      }
      return d;
    }
    // A row is kept when it shows the same thing; else it is drawn anew.
    const sig = n.kind === "value" ? `v|${n.type}|${n.key}|${n.text}` : `b|${n.key}|${n.length}|${n.hex}|${n.truncated}|${n.note}`;
    if (old && old.tagName === "DIV" && old.dataset["path"] === n.path && old.dataset["sig"] === sig) return old;
    const row = doc.createElement("div");
    row.dataset["path"] = n.path;
    row.dataset["sig"] = sig;
    if (n.kind === "value") {
      row.className = `tr-value tr-${n.type}`;
      row.append(span(doc, "tr-key", n.key), " ", span(doc, "tr-text", n.type === "string" ? JSON.stringify(n.text) : n.text));
      return row;
    }
    row.className = "tr-bytes";
    row.append(
      span(doc, "tr-key", n.key),
      " ",
      span(doc, "tr-summary", `${n.length} bytes`),
      " ",
      span(doc, "tr-text", n.hex + (n.truncated ? " …" : "")),
      " ",
      span(doc, "tr-note", `(${n.note})`),
    );
    return row;
  }
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function span(doc: Document, cls: string, text: string): HTMLSpanElement {
  const s = doc.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}
