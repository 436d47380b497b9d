// The demo page's built files are committed (the server binary embeds them
// from demo/dist); this test rebuilds them into a temporary folder and
// fails when the committed copy differs, i.e. when someone changed the
// page or the library without running `npm run build:demo`.
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

test("committed demo/dist matches a fresh build", { timeout: 60_000 }, async (t) => {
  const out = await mkdtemp(join(tmpdir(), "tickroom-demo-"));
  t.after(() => rm(out, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, [join(root, "scripts/build-demo.mjs"), out], { cwd: root });

  const built = (await readdir(out)).sort();
  const committed = (await readdir(join(root, "demo/dist"))).sort();
  assert.deepEqual(committed, built, "demo/dist holds exactly the files a build writes");
  assert.deepEqual(built, ["app.js", "index.html", "style.css", "watch.html", "watch.js"]);
  for (const f of built) {
    const want = await readFile(join(out, f));
    const got = await readFile(join(root, "demo/dist", f));
    assert.ok(got.equals(want), `demo/dist/${f} is stale: run \`npm run build:demo\` in client-js and commit demo/dist`);
  }
});
