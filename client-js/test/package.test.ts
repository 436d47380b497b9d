// client-js as a studio gets it: `npm pack` in a copy of the package's
// sources with no dist/ (a fresh clone has none: it is git-ignored), the
// tarball unpacked into a consumer project's node_modules next to the
// dependencies npm would install, and then imported there by Node and
// type-checked under strict the ways a studio's project resolves modules.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

// root is the client-js folder: this file runs from .test-build/.
const root = fileURLToPath(new URL("..", import.meta.url));
const modules = join(root, "node_modules");

// readmeBlock is the first ts code block after a README heading, verbatim.
async function readmeBlock(heading: string): Promise<string> {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README has "${heading}"`);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `a ts block under "${heading}"`);
  return m[1]!;
}

interface Packed {
  filename: string;
  files: { path: string; size: number }[];
}

// The timeout only guards against a hang: its tsc type-checks took 27-33
// s each on a box loaded by other test runs.
describe("the npm package", { timeout: 300_000 }, () => {
  let dir = "";
  let packed: Packed;
  let app = "";
  const paths = new Set<string>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tickroom-package-"));
    const copy = join(dir, "src-copy");
    await mkdir(copy);
    for (const f of ["package.json", ".gitignore", "README.md", "LICENSE", "tsconfig.json", "src", "scripts"]) {
      await cp(join(root, f), join(copy, f), { recursive: true });
    }
    await symlink(modules, join(copy, "node_modules"), "dir");
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: copy, maxBuffer: 1 << 24 });
    packed = (JSON.parse(stdout) as Packed[])[0]!;
    for (const f of packed.files) paths.add(f.path);
    app = join(dir, "app");
    const pkg = join(app, "node_modules/@tickroom/client");
    await mkdir(pkg, { recursive: true });
    await run("tar", ["-xzf", join(dir, packed.filename), "-C", pkg, "--strip-components=1"]);
    await mkdir(join(app, "node_modules/@types"), { recursive: true });
    for (const dep of ["@bufbuild", "ws", "@types/node", "@types/ws"]) {
      await symlink(join(modules, dep), join(app, "node_modules", dep), "dir");
    }
    await writeFile(join(app, "package.json"), JSON.stringify({ name: "studio-game", private: true, type: "module" }));
  });
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  it("packs the built library from a clean checkout, and no tests", () => {
    for (const f of ["package.json", "README.md", "LICENSE", "dist/index.js", "dist/index.d.ts", "dist/pb.js", "dist/gen/tickroom/v1/envelope_pb.js"]) {
      assert.ok(paths.has(f), `the tarball holds ${f} (it holds ${[...paths].slice(0, 8).join(", ")}…)`);
    }
    for (const f of paths) {
      // dist/browser is the repository's own bundle (tests, demo), built or not.
      assert.ok(!/^(test|\.test-build|node_modules|demo|monitor|bench|scripts|dist\/browser)\//.test(f) && !f.endsWith(".test.ts"), `${f} is not part of the package`);
    }
  });

  // A game generates its own messages with protoc-gen-es and imports
  // @bufbuild/protobuf itself (the README's quick start does). A dependency
  // pinned to one version makes npm install a second runtime under this
  // package whenever the game's differs (an older lock, a newer release),
  // and the page's bundle carries both (some 67 KB minified each); a caret
  // range from the version the generated code needs lets npm share one.
  it("shares the protobuf runtime with the game's own generated code", async () => {
    const pkg = JSON.parse(await readFile(join(app, "node_modules/@tickroom/client/package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const gen = JSON.parse(await readFile(join(modules, "@bufbuild/protoc-gen-es/package.json"), "utf8")) as { version: string };
    assert.deepEqual(Object.keys(pkg.dependencies), ["@bufbuild/protobuf"]);
    assert.equal(pkg.dependencies["@bufbuild/protobuf"], `^${gen.version}`, "the runtime the generated code needs, or any later 2.x");
    assert.equal(pkg.devDependencies["@bufbuild/protoc-gen-es"], gen.version);
  });

  it("ships the sources its source maps name", async () => {
    const maps = [...paths].filter((f) => f.endsWith(".js.map"));
    assert.ok(maps.length > 10, `${maps.length} source maps`);
    for (const m of maps) {
      const map = JSON.parse(await readFile(join(app, "node_modules/@tickroom/client", m), "utf8")) as { sources: string[] };
      for (const s of map.sources) {
        const path = join(m, "..", s).replaceAll("\\", "/");
        assert.ok(paths.has(path), `${m} names ${path}, which the package does not hold: a studio's debugger shows nothing for it`);
      }
    }
  });

  // checkedTogether type-checks a group of the app's files under strict,
  // the way a studio's project resolves the package: "bundler" (Vite,
  // esbuild, webpack) and "nodenext" (Node), one tsc run each for the whole
  // group (the runs' time is tsc loading the libraries, not the files). It
  // returns a check for one of the group's entries, which fails with tsc's
  // errors in that entry or anywhere but in the group's other entries (in
  // a shared file, a broken config). Each entry is a module, so it sees no
  // more beside it than it would alone.
  function checkedTogether(
    group: string,
    shared: Record<string, string>,
    load: () => Promise<Record<string, string>>,
  ): (entry: string) => Promise<void> {
    let runs: Promise<{ resolution: string; out: string }[]> | undefined;
    let entries: string[] = [];
    const tsc = async (loaded: Record<string, string>) => {
      entries = Object.keys(loaded);
      const files = { ...shared, ...loaded };
      for (const [name, body] of Object.entries(files)) {
        await mkdir(join(app, name, ".."), { recursive: true });
        await writeFile(join(app, name), body);
      }
      return Promise.all(
        [
          ["ESNext", "Bundler"],
          ["NodeNext", "NodeNext"],
        ].map(async ([module, resolution]) => {
          const config = {
            compilerOptions: { target: "ES2022", module, moduleResolution: resolution, lib: ["ES2022", "DOM"], types: ["node"], strict: true, noEmit: true, skipLibCheck: false },
            files: Object.keys(files),
          };
          const tsconfig = `tsconfig.${group}.${resolution!.toLowerCase()}.json`;
          await writeFile(join(app, tsconfig), JSON.stringify(config));
          try {
            await run(process.execPath, [join(modules, "typescript/bin/tsc"), "-p", tsconfig], { cwd: app });
            return { resolution: resolution!, out: "" };
          } catch (err) {
            const e = err as { stdout?: string };
            return { resolution: resolution!, out: e.stdout || String(err) };
          }
        }),
      );
    };
    return async (entry) => {
      runs ??= load().then(tsc);
      const done = await runs;
      assert.ok(entries.includes(entry), `${entry} is one of the group's entries (${entries.join(", ")})`);
      for (const { resolution, out } of done) {
        // An error's first line names its file; the lines after it that
        // are indented go with it.
        let others = false;
        const kept = out.split("\n").filter((line) => {
          if (line.trim() === "") return false;
          if (!/^\s/.test(line)) others = entries.some((n) => n !== entry && line.startsWith(`${n}(`));
          return !others;
        });
        if (kept.length > 0) assert.fail(`tsc with moduleResolution ${resolution}:\n${kept.join("\n")}`);
      }
    };
  }

  const alone = checkedTogether("alone", {}, async () => ({
    "node-example.ts": await readmeBlock("### In Node"),
    "inject.ts": [
      'import { connect, type WebSocketConstructor } from "@tickroom/client";',
      "const ws: WebSocketConstructor = WebSocket;",
      'export const client = connect({ url: "ws://127.0.0.1:1/v1/ws", token: "t", WebSocket, httpUrl: "http://127.0.0.1:1" });',
      "export { ws };",
      "",
    ].join("\n"),
  }));

  it("type-checks the README's Node example", async () => {
    await alone("node-example.ts");
  });

  it("takes the browser's WebSocket class as ClientOptions.WebSocket", async () => {
    await alone("inject.ts");
  });

  // The README's page examples leave the game to the reader: its messages,
  // generated by protoc-gen-es from its .proto, and its own functions.
  const game = {
    "gen/arena_pb.d.ts": [
      'import type { Message } from "@bufbuild/protobuf";',
      'import type { GenMessage } from "@bufbuild/protobuf/codegenv2";',
      'export type Player = Message<"arena.Player"> & { x: number; y: number; name: string };',
      "export declare const PlayerSchema: GenMessage<Player>;",
      'export type Move = Message<"arena.Move"> & { dx: number; dy: number };',
      "export declare const MoveSchema: GenMessage<Move>;",
      "",
    ].join("\n"),
    "gen/tickroom/arena/v1/arena_pb.d.ts": [
      'import type { Message } from "@bufbuild/protobuf";',
      'import type { GenMessage } from "@bufbuild/protobuf/codegenv2";',
      'export declare const PlayerSchema: GenMessage<Message<"a.Player"> & { x: number }>;',
      'export declare const GlobalsSchema: GenMessage<Message<"a.Globals"> & { tick: number }>;',
      "",
    ].join("\n"),
    "game.d.ts": [
      'import type { Move, Player } from "./gen/arena_pb.js";',
      'import type { Room } from "@tickroom/client";',
      "declare global {",
      "  var me: Move;",
      "  function serverCopyOfMe(): Move;",
      "  function applyMove(me: Move, move: Move): Move;",
      "  const myEntityId: bigint;",
      "  function draw(id: bigint, p: Player): void;",
      "  const room: Room;",
      "}",
      "",
    ].join("\n"),
  };

  const withGame = checkedTogether("game", game, async () => ({
    "quick-start.ts": await readmeBlock("## Quick start"),
    "inspector.ts": `${await readmeBlock("### State inspector")}\nexport {};\n`,
  }));

  it("type-checks the README's quick start", async () => {
    await withGame("quick-start.ts");
  });

  it("type-checks the README's state inspector example", async () => {
    await withGame("inspector.ts");
  });

  it("imports in Node as an ES module", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--input-type=module", "-e", 'const m = await import("@tickroom/client"); console.log(typeof m.connect, typeof m.pb.ClientMessageSchema, m.PROTOCOL_VERSION);'],
      { cwd: app },
    );
    assert.equal(stdout.trim(), "function object 2");
  });
});
