import type { InspectNode } from "./inspector.js";

/** InspectorViewOptions tune an {@link InspectorView}. */
export interface InspectorViewOptions {
  /**
   * openDepth is how deep groups start open the first time they show
   * (the root is depth 0). Default 1: the sections are open, each entity
   * closed until clicked.
   */
  openDepth?: number;
}

/**
 * InspectorView draws an {@link InspectNode} tree into an element as nested
 * `<details>` (groups) and rows (values and bytes), with text only, never
 * markup from the state, and no inline style, so it works under a strict
 * Content-Security-Policy. Each {@link update} redraws the tree and keeps
 * open the groups the user opened (and closed those they closed), by path.
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
    this.openDepth = options.openDepth ?? 1;
    element.classList.add("tr-inspector");
  }

  /** update redraws the view with tree. */
  update(tree: InspectNode): void {
    const doc = this.element.ownerDocument;
    this.element.replaceChildren(this.node(doc, tree, 0));
  }

  /** clear empties the view; remembered open groups stay remembered. */
  clear(): void {
    this.element.replaceChildren();
  }

  private node(doc: Document, n: InspectNode, depth: number): HTMLElement {
    if (n.kind === "group") {
      const d = doc.createElement("details");
      d.className = "tr-group";
      d.dataset["path"] = n.path;
      d.open = this.openState.get(n.path) ?? depth < this.openDepth;
      const s = doc.createElement("summary");
      s.append(span(doc, "tr-key", n.key), " ", span(doc, "tr-summary", n.summary));
      d.append(s);
      for (const c of n.children) d.append(this.node(doc, c, depth + 1));
      d.addEventListener("toggle", () => this.openState.set(n.path, d.open));
      return d;
    }
    const row = doc.createElement("div");
    row.dataset["path"] = n.path;
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

function span(doc: Document, cls: string, text: string): HTMLSpanElement {
  const s = doc.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}
