// Builds the pages of the example games (../examples/<name>/web) into
// their web/dist folders: app.js, one minified ES module with client-js and
// the protobuf runtime inside, next to index.html and style.css copied as they are. The
// pages import "@tickroom/client" as a studio's would; here it resolves to
// this folder's src/. The output is committed, since each example's binary
// embeds it; test/examples-bundle.test.ts fails when it is stale.
//
// Usage: node scripts/build-examples.mjs [outroot]   (outroot/<name>/ instead of web/dist)
import { build } from "esbuild";
import { copyFile, mkdir, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** EXAMPLES is the folder holding the example games. */
export const EXAMPLES = resolve(root, "../examples");

/** exampleNames lists the examples that have a page (web/main.ts). */
export async function exampleNames() {
  const out = [];
  for (const name of (await readdir(EXAMPLES)).sort()) {
    if (await stat(join(EXAMPLES, name, "web/main.ts")).catch(() => undefined)) out.push(name);
  }
  return out;
}

/** buildExample writes example name's page into outdir (default: its web/dist). */
export async function buildExample(name, outdir = join(EXAMPLES, name, "web/dist")) {
  await mkdir(outdir, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: [join(EXAMPLES, name, "web/main.ts")],
    outfile: join(outdir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    legalComments: "none",
    sourcemap: false,
    logLevel: "warning",
    alias: { "@tickroom/client": join(root, "src/index.ts") },
    nodePaths: [join(root, "node_modules")],
  });
  for (const f of ["index.html", "style.css"]) {
    // The server forbids inline style and script (Content-Security-Policy): CSS lives in a file.
    const src = join(EXAMPLES, name, "web", f);
    if (await stat(src).catch(() => undefined)) await copyFile(src, join(outdir, f));
  }
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const name of await exampleNames()) {
    const out = await buildExample(name, process.argv[2] ? join(resolve(process.argv[2]), name) : undefined);
    console.log(`${name} written to ${out}`);
  }
}
