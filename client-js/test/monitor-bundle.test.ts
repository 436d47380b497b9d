// The monitor page's built files are committed (the server binary embeds
// them from server/admin/static); this test rebuilds them into a temporary
// folder and fails when the committed copy differs, i.e. when someone
// changed the page, the inspector or uPlot without running
// `npm run build:monitor`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// root is the client-js folder: this file runs from .test-build/.
const root = fileURLToPath(new URL("..", import.meta.url));
const committed = join(root, "../server/admin/static");

test("committed server/admin/static matches a fresh monitor build", { timeout: 60_000 }, async (t) => {
  const out = await mkdtemp(join(tmpdir(), "tickroom-monitor-"));
  t.after(() => rm(out, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, [join(root, "scripts/build-monitor.mjs"), out], { cwd: root });

  const built = (await readdir(out)).sort();
  assert.deepEqual((await readdir(committed)).sort(), built, "server/admin/static holds exactly the files a build writes");
  assert.deepEqual(built, ["index.html", "monitor.css", "monitor.js"]);
  for (const f of built) {
    const want = await readFile(join(out, f));
    const got = await readFile(join(committed, f));
    assert.ok(got.equals(want), `server/admin/static/${f} is stale: run \`npm run build:monitor\` in client-js and commit it`);
  }
  // uPlot is inside, and nothing asks for a file the page does not have.
  const js = await readFile(join(out, "monitor.js"), "utf8");
  assert.match(js, /uplot/);
  assert.doesNotMatch(js, /import\s*\(|\bimport\s+[{*\w]/);
});
