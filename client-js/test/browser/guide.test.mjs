// docs/games.md followed to the end, in Chromium: the counter game's
// files are taken from the guide's code blocks into a module of their own
// (as TestGuideBuildsAndPasses does in Go), generated with buf, its page
// bundled with the guide's esbuild command, built with go build and run;
// two pages log in, quick-match, and one presses to the goal, the last
// press twice at once: the winner reads "You won!" (the second press's
// refusal does not replace it), the other "You lost."; presses past the
// game's input rate are shown as dropped. A guide whose page does not
// work as written fails here. Screenshots go to test-artifacts/.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, ROOT } from "./harness.mjs";

const ARTIFACTS = join(ROOT, "test-artifacts");
const REPO = join(ROOT, "..");
const wait = { timeout: 20_000 };
const run = promisify(execFile);

// guideFiles maps each file of the counter module to its code block in
// the guide, as a studio copies them.
function guideFiles(guide) {
  const files = {};
  for (const [, lang, code] of guide.matchAll(/```(\w+)\n([\s\S]*?)```/g)) {
    let name;
    if (lang === "proto") name = "proto/counter/v1/counter.proto";
    else if (lang === "go" && code.includes("func Definition()")) name = "game.go";
    else if (lang === "go" && code.includes("func main()")) name = "main.go";
    else if (lang === "go" && code.includes("func Test")) name = "counter_test.go";
    else if (lang === "yaml" && code.includes("modules:")) name = "buf.yaml";
    else if (lang === "yaml" && code.includes("plugins:")) name = "buf.gen.yaml";
    else if (lang === "ts" && code.includes("InspectorView")) name = "web/debug.ts";
    else if (lang === "ts") name = "web/main.ts";
    else if (lang === "html") name = "web/index.html";
    else continue;
    assert.equal(files[name], undefined, `the guide has two code blocks for ${name}`);
    files[name] = code;
  }
  return files;
}

describe("the games guide's counter page", { timeout: 300_000 }, () => {
  let browser;
  let dir;
  let proc;
  let url;
  let adminLine; // the line the guide says names the admin token's file
  const lines = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tickroom-guide-"));
    const guide = await readFile(join(REPO, "docs/games.md"), "utf8");
    const files = guideFiles(guide);
    adminLine = /the line starting `([^`]+)` names the file that holds it/.exec(guide)?.[1];
    for (const name of ["proto/counter/v1/counter.proto", "game.go", "main.go", "buf.yaml", "buf.gen.yaml", "web/main.ts", "web/index.html"]) {
      assert.ok(files[name], `the guide has no ${name}`);
    }
    delete files["counter_test.go"]; // TestGuideBuildsAndPasses runs it
    const goVersion = /^go (\S+)$/m.exec(await readFile(join(REPO, "go.mod"), "utf8"))[1];
    files["go.mod"] = `module example.com/counter\n\ngo ${goVersion}\n\nrequire github.com/tickroom/tickroom v0.0.0\n\nreplace github.com/tickroom/tickroom => ${REPO}\n`;
    // @tickroom/client is this folder's source, where a studio has the npm package.
    files["tsconfig.json"] = JSON.stringify({ compilerOptions: { baseUrl: ".", paths: { "@tickroom/client": [join(ROOT, "src/index.ts")] } } });
    for (const [name, body] of Object.entries(files)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), body);
    }
    await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
    const env = { ...process.env, PATH: `${join(REPO, ".tools/bin")}:${process.env.PATH}`, GOFLAGS: "-mod=mod", GOPROXY: "off" };
    const sh = (cmd, args) => run(cmd, args, { cwd: dir, env, timeout: 240_000 });
    // The guide's commands: generate, bundle the page into web/dist, build.
    await sh(join(REPO, ".tools/bin/buf"), ["generate"]);
    await sh(join(ROOT, "node_modules/.bin/esbuild"), ["web/main.ts", "--bundle", "--format=esm", "--outfile=web/dist/app.js"]);
    await writeFile(join(dir, "web/dist/index.html"), files["web/index.html"]);
    await sh("go", ["mod", "tidy"]);
    await sh("go", ["build", "-o", "counter", "."]);

    // Free ports for all three: the admin port's default, 9090, may be
    // another server's on this machine.
    proc = spawn(join(dir, "counter"), ["-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    for (const out of [proc.stdout, proc.stderr]) {
      createInterface({ input: out }).on("line", (l) => {
        lines.push(l);
        if (out === proc.stderr) process.stderr.write(`${l}\n`);
      });
    }
    const line = await new Promise((resolve, reject) => {
      createInterface({ input: proc.stdout }).once("line", resolve);
      proc.once("exit", (code) => reject(new Error(`counter exited with ${code}`)));
    });
    const m = /^counter on (http:\/\/\S+)\/$/.exec(line);
    assert.ok(m, `first line of counter: ${line}`);
    url = m[1];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    proc?.kill("SIGTERM");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(name) {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
    // refusals counts the game's refusals "the match is over" the page has
    // handled: its socket's listener below runs before the client's, and
    // counts once the client's listener has run too.
    await context.addInitScript(() => {
      window.refusals = 0;
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          this.addEventListener("message", (ev) => {
            if (ev.data instanceof ArrayBuffer && new TextDecoder().decode(ev.data).includes("the match is over")) setTimeout(() => window.refusals++);
          });
        }
      };
    });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    // A failed load is checked by its URL below (the browser's own
    // /favicon.ico, which the guide's page has none of, aside).
    page.on("console", (msg) => {
      if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) errors.push(msg.text());
    });
    page.on("response", (res) => {
      if (res.status() >= 400 && new URL(res.url()).pathname !== "/favicon.ico") errors.push(`${res.status()} ${res.url()}`);
    });
    await page.goto(`${url}/`);
    // statuses are the texts the status line has shown, in order, and
    // lists the players' list as each was shown.
    await page.evaluate(() => {
      const status = document.getElementById("status");
      window.statuses = [];
      window.lists = [];
      new MutationObserver(() => {
        window.statuses.push(status.textContent);
        window.lists.push(document.getElementById("players")?.textContent ?? "");
      }).observe(status, { childList: true, characterData: true, subtree: true });
    });
    await page.fill("#name", name);
    await page.click("#login button");
    await page.waitForSelector("#press:not([hidden])", wait);
    return { page, errors };
  }

  // count reads a player's count from the page's list ("ann: 3 / 10").
  const count = (page, name) =>
    page.$$eval("#players li", (lis, who) => {
      const li = lis.find((l) => l.textContent?.startsWith(`${who}: `));
      return li ? Number(/: (\d+) \//.exec(li.textContent ?? "")?.[1]) : -1;
    }, name);

  // The guide tells where the admin token is: a line go run prints names
  // its file, which only the server's user can read. It said "the second
  // line", which was the third: a warning that sessions end with the
  // process comes first.
  test("the line the guide names tells where the admin token is", async () => {
    assert.ok(adminLine, "the guide does not say which line names the admin token's file");
    const admin = lines.find((l) => l.startsWith(adminLine));
    assert.ok(admin, `no line starts with ${JSON.stringify(adminLine)} in ${JSON.stringify(lines)}`);
    const m = /^counter admin on (http:\/\/\S+)\/monitor\/ \(admin token in (\S+)\)$/.exec(admin);
    assert.ok(m, admin);
    assert.equal((await stat(m[2])).mode & 0o777, 0o600, `${m[2]} is readable by others`);
    const token = (await readFile(m[2], "utf8")).trim();
    const res = await fetch(`${m[1]}/v1/admin/rooms`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
  });

  test("two pages play a match to the goal", async () => {
    const ann = await open("ann");
    // Alone in the room, ann presses 25 times at once, past the game's
    // input rate (twice its 10 Hz, a burst of 20): the game refuses the
    // presses it gets (the match has not started), and the page says the
    // others were dropped, told by the server's InputDropped.
    await ann.page.evaluate(() => {
      const b = document.getElementById("press");
      for (let i = 0; i < 25; i++) b.click();
    });
    await ann.page.waitForFunction(() => window.statuses.some((s) => / press\(es\) too fast: not counted$/.test(s)), null, wait);
    const bob = await open("bob");
    await ann.page.waitForFunction(() => document.querySelectorAll("#players li").length === 2, null, wait);
    assert.match(await ann.page.textContent("#players"), /ann: 0 \/ 10 \(you\)/);

    // ann presses to one short of the goal; a press before the match
    // starts is refused by the game (the status says so) and pressed again.
    for (let tries = 0, n = await count(ann.page, "ann"); n < 9 && tries < 40; tries++, n = await count(ann.page, "ann")) {
      await ann.page.click("#press");
      await ann.page
        .waitForFunction((before) => Number(/ann: (\d+)/.exec(document.getElementById("players")?.textContent ?? "")?.[1]) > before, n, { timeout: 3000 })
        .catch(() => {});
    }
    // Then twice at once, as an eager player does: the first press wins,
    // the second, sent before the result came back, is refused as "the
    // match is over". The result stays on the page: the refusal took its
    // place when it came after the result.
    await ann.page.evaluate(() => {
      const b = document.getElementById("press");
      b.click();
      b.click();
    });
    await ann.page.waitForFunction(() => window.refusals > 0 && window.statuses.includes("You won!"), null, wait);
    assert.equal(await ann.page.textContent("#status"), "You won!", "a refused press took the result's place");
    await bob.page.waitForFunction(() => document.getElementById("status")?.textContent === "You lost.", null, wait);
    // The result comes after the state of the tick that ended the match:
    // bob's page counts ann's winning press by the time it says "You
    // lost.".
    const lostOver = await bob.page.evaluate(() => window.lists[window.statuses.indexOf("You lost.")]);
    assert.match(lostOver, /ann: 10 \//, "bob's page said \"You lost.\" before it counted ann's winning press");
    assert.equal(await count(bob.page, "ann"), 10);
    // The match is over: neither page offers a press, which the game
    // would refuse, its refusal taking the place of the result.
    for (const p of [ann, bob]) assert.equal(await p.page.isHidden("#press"), true, "Press is still offered after the match ended");
    await ann.page.screenshot({ path: join(ARTIFACTS, "guide-counter.png") });
    assert.deepEqual([...ann.errors, ...bob.errors], []);
  });
});
