// Compiles bench/*.bench.ts with esbuild and runs each in Node.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const benches = (await readdir(`${root}/bench`)).filter((f) => f.endsWith(".bench.ts"));
await rm(`${root}/.test-build/bench`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: benches.map((f) => `bench/${f}`),
  outdir: ".test-build/bench",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  packages: "external",
  format: "esm",
  platform: "node",
  target: ["node20"],
  logLevel: "warning",
});
for (const f of benches) {
  console.log(`# ${f}`);
  // --expose-gc lets the bench count the bytes an op allocates.
  execFileSync(process.execPath, ["--expose-gc", `${root}/.test-build/bench/${f.replace(/\.ts$/, ".mjs")}`], { stdio: "inherit" });
}
