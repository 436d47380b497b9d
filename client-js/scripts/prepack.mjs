// Runs before `npm pack` and `npm publish`: dist/ is git-ignored, so a
// fresh clone has none, and an old build may hold the output of sources
// since removed. This removes what tsc writes (dist/browser, the
// repository's own bundle, is not packed and is left alone) and builds it
// again.
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = `${root}/dist`;
let entries = [];
try {
  entries = readdirSync(dist);
} catch {
  // no dist yet
}
for (const name of entries) {
  if (name !== "browser") rmSync(`${dist}/${name}`, { recursive: true, force: true });
}
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: root, stdio: "inherit" });
