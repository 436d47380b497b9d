// The state inspector's DOM view in Chromium, from the bundled library as
// any page loads it: values show as text (markup in the state creates no
// element), a group the user opened stays open across updates, elements
// whose node did not change are kept, and a value that changed is
// rewritten in place.
import assert from "node:assert/strict";
import { test } from "node:test";
import { withPage } from "./harness.mjs";

test("InspectorView draws a state tree and keeps it live", { timeout: 120_000 }, async () => {
  await withPage(async ({ page, baseUrl, errors }) => {
    await page.goto(`${baseUrl}/test/browser/pages/smoke.html`);
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "ready", null, { timeout: 30_000 });

    const first = await page.evaluate(() => {
      const { InspectorView, inspectState, fromAdminState } = window.tickroom;
      const box = document.createElement("div");
      box.id = "ins";
      document.body.append(box);
      const state = (tick, x) =>
        fromAdminState({
          room: "r",
          game: "g",
          tick,
          globals_bytes: "AQI=",
          entities: [
            { id: "1", type: "demo.Player", value: { name: "<img src=x onerror=alert(1)>", x } },
            { id: "2", bytes: "/w==" },
          ],
        });
      const view = new InspectorView(box);
      window.insp = { view, state, inspectState };
      view.update(inspectState(state(1, 5)));
      const q = (p) => box.querySelector(`[data-path="${p}"]`);
      return {
        images: box.querySelectorAll("img").length,
        name: q("entities/1/name").textContent,
        rootOpen: q("").open,
        entitiesOpen: q("entities").open,
        entityOpen: q("entities/1").open,
        bytes: q("entities/2").textContent,
        globals: q("globals").textContent,
      };
    });
    assert.deepEqual(first, {
      images: 0,
      name: 'name "<img src=x onerror=alert(1)>"',
      rootOpen: true,
      entitiesOpen: true,
      entityOpen: false,
      bytes: "2 1 bytes ff (no schema for this value)",
      globals: "globals 2 bytes 01 02 (no schema for this value)",
    });

    const second = await page.evaluate(() => {
      const box = document.getElementById("ins");
      const q = (p) => box.querySelector(`[data-path="${p}"]`);
      const { view, state, inspectState } = window.insp;
      q("entities/1").open = true; // as a click would
      q("entities/1").dispatchEvent(new Event("toggle"));
      const keptRow = q("entities/2");
      const oldX = q("entities/1/x");
      view.update(inspectState(state(2, 6)));
      return {
        entityOpen: q("entities/1").open,
        rowKept: q("entities/2") === keptRow,
        xRewritten: q("entities/1/x") !== oldX,
        x: q("entities/1/x").textContent,
        tick: q("tick").textContent,
      };
    });
    assert.deepEqual(second, { entityOpen: true, rowKept: true, xRewritten: true, x: "x 6", tick: "tick 2" });
    assert.deepEqual(errors, []);
  });
});
