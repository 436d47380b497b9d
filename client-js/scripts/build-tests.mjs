// Compiles the unit tests for node:test: each test/*.test.ts becomes one
// ES module in .test-build/ with the library sources bundled in (packages
// in node_modules stay imports). esbuild resolves the generated code's
// extension-less imports, which Node's own loader would not.
import { build } from "esbuild";
import { readdir, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tests = (await readdir(`${root}/test`)).filter((f) => f.endsWith(".test.ts")).map((f) => `test/${f}`);

await rm(`${root}/.test-build`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: tests,
  outdir: ".test-build",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  packages: "external",
  format: "esm",
  platform: "node",
  target: ["node20"],
  sourcemap: "inline",
  logLevel: "warning",
});
