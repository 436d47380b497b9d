// Builds the admin monitor page into server/admin/static (or the folder
// given as the first argument): monitor.js, one minified script with uPlot
// and the state inspector inside, monitor.css with uPlot's stylesheet
// inside, and index.html copied as it is. The output is committed, since
// the Go binary embeds it (server/admin/monitor.go) and a clean clone must
// build without npm; esbuild's output is deterministic, and
// test/monitor-bundle.test.ts fails when the committed files differ from a
// fresh build. Sources: monitor/ (the page) and src/ (the inspector).
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** MONITOR_FILES are the files a build writes, relative to its output folder. */
export const MONITOR_FILES = ["index.html", "monitor.css", "monitor.js"];

/**
 * buildMonitor writes the monitor's files into outdir. root is the
 * client-js folder; it is the working directory of the build, so that the
 * output does not depend on where it is written.
 */
export async function buildMonitor(outdir, root = fileURLToPath(new URL("..", import.meta.url))) {
  const out = resolve(root, outdir);
  await mkdir(out, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { monitor: "monitor/src/main.ts" },
    outdir: out,
    bundle: true,
    // A classic script (loaded with defer), as the page has always been.
    format: "iife",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    legalComments: "none",
    sourcemap: false,
    logLevel: "warning",
  });
  await build({
    absWorkingDir: root,
    entryPoints: { monitor: "monitor/monitor.css" },
    outdir: out,
    bundle: true,
    minify: true,
    legalComments: "none",
    logLevel: "warning",
  });
  await copyFile(join(root, "monitor", "index.html"), join(out, "index.html"));
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildMonitor(process.argv[2] ?? "../server/admin/static");
  console.log(`monitor written to ${out}`);
}
