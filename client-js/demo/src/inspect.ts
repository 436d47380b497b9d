// The view for a game this page does not know: the room's state as a live
// tree (the library's state inspector), entities and globals as bytes
// since the page has no schema for them, redrawn at most a few times a
// second.
import { InspectorView, inspectState, type Room } from "../../src/index.js";
import type { GameView, ViewHost } from "./view.js";

// redrawMs spaces redraws: a 60 Hz room would otherwise rebuild the tree
// every frame.
const redrawMs = 250;

/** InspectView shows a room's state as a tree. */
export class InspectView implements GameView {
  private readonly view: InspectorView;
  private readonly off: () => void;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** InspectView's constructor draws the current state into element and follows the room. */
  constructor(
    private readonly room: Room,
    private readonly element: HTMLElement,
    host: ViewHost,
    note: string,
  ) {
    this.view = new InspectorView(element);
    element.hidden = false;
    host.status(note);
    this.off = room.on("state", () => this.schedule());
    this.draw();
  }

  /** dispose stops following the room and hides the tree. */
  dispose(): void {
    this.off();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.view.clear();
    this.element.hidden = true;
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, redrawMs);
  }

  private draw(): void {
    this.view.update(inspectState(this.room.store));
    this.element.dataset["tick"] = String(this.room.tick ?? 0n);
    this.element.dataset["entities"] = String(this.room.entities.size);
  }
}
