// The example games' pages are committed built (each example's binary
// embeds its web/dist); this test rebuilds them into a temporary folder and
// fails when a committed copy differs, i.e. when someone changed a page,
// its generated types or the library without running
// `npm run build:examples`.
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
const examples = join(root, "../examples");

test("committed examples/*/web/dist match a fresh build", { timeout: 60_000 }, async (t) => {
  const out = await mkdtemp(join(tmpdir(), "tickroom-examples-"));
  t.after(() => rm(out, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, [join(root, "scripts/build-examples.mjs"), out], { cwd: root });
  const names = (await readdir(out)).sort();
  assert.ok(names.length >= 2, `examples built: ${names.join(", ")}`);
  for (const name of names) {
    const built = (await readdir(join(out, name))).sort();
    assert.deepEqual((await readdir(join(examples, name, "web/dist"))).sort(), built, `examples/${name}/web/dist holds exactly the files a build writes`);
    for (const f of built) {
      const want = await readFile(join(out, name, f));
      const got = await readFile(join(examples, name, "web/dist", f));
      assert.ok(got.equals(want), `examples/${name}/web/dist/${f} is stale: run \`npm run build:examples\` in client-js and commit it`);
    }
  }
});
