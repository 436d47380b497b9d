// Bundles the library for the browser: dist/browser/tickroom.js, one ES
// module with the protobuf runtime inside, loadable by <script type="module">
// without a bundler. Used by the browser tests and the demo page.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: ["src/index.ts"],
  outfile: "dist/browser/tickroom.js",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  sourcemap: true,
  minify: false,
  logLevel: "warning",
});
