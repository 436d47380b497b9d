// Builds the demo page into demo/dist (or the folder given as the first
// argument): app.js, one minified ES module with the library and the
// protobuf runtime inside, next to index.html and style.css copied as they
// are. The output is committed, since the Go binary embeds it
// (client-js/embed.go) and a clean clone must build without npm; esbuild's
// output is deterministic, and test/demo-bundle.test.ts fails when the
// committed files differ from a fresh build.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** DEMO_FILES are the files a build writes, relative to its output folder. */
export const DEMO_FILES = ["index.html", "watch.html", "style.css", "app.js", "watch.js"];

/**
 * buildDemo writes the demo's files into outdir. root is the client-js
 * folder; it is the working directory of the build, so that the output
 * does not depend on where it is written.
 */
export async function buildDemo(outdir, root = fileURLToPath(new URL("..", import.meta.url))) {
  const out = resolve(root, outdir);
  await mkdir(out, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { app: "demo/src/main.ts", watch: "demo/src/watch.ts" },
    outdir: out,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    legalComments: "none",
    sourcemap: false,
    logLevel: "warning",
  });
  for (const f of ["index.html", "watch.html", "style.css"]) {
    await copyFile(join(root, "demo", f), join(out, f));
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildDemo(process.argv[2] ?? "demo/dist");
  console.log(`demo written to ${out}`);
}
