// The example games' pages (examples/*/web) in Chromium against their own
// binaries: two players sit down at crazy eights, each sees a hand of
// five and the other's count, and a draw moves the turn; two players open
// pong and see the court drawn. Screenshots go to test-artifacts/.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, ROOT } from "./harness.mjs";

const ARTIFACTS = join(ROOT, "test-artifacts");
const REPO = join(ROOT, "..");
const wait = { timeout: 20_000 };

// startExample builds examples/<name> and runs it on free loopback ports;
// it resolves with the page's URL and stop().
async function startExample(name, dir) {
  const bin = join(dir, name);
  await promisify(execFile)("go", ["build", "-o", bin, `./examples/${name}`], { cwd: REPO, timeout: 180_000 });
  const proc = spawn(bin, ["-addr", "127.0.0.1:0", "-http", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).once("line", resolve);
    proc.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  const m = / on (http:\/\/\S+)\/$/.exec(line);
  assert.ok(m, `first line of ${name}: ${line}`);
  return { url: m[1], stop: () => proc.kill("SIGTERM") };
}

describe("example pages", { timeout: 240_000 }, () => {
  let browser;
  let dir;
  const cleanups = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tickroom-examples-"));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    await mkdir(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function open(url, name, viewport = { width: 1280, height: 720 }) {
    const context = await browser.newContext({ viewport });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    await page.goto(`${url}/`);
    await page.fill("#name", name);
    await page.click("#login button");
    return { page, errors };
  }

  test("crazy eights: each player sees their own hand and the turn moves", async () => {
    const srv = await startExample("cards", dir);
    cleanups.push(async () => srv.stop());
    const ann = await open(srv.url, "ann");
    const bob = await open(srv.url, "bob", { width: 390, height: 844 });
    for (const p of [ann, bob]) {
      await p.page.waitForFunction(() => document.querySelectorAll("#hand .card").length === 5 && document.querySelectorAll("#seats li").length === 2, null, wait);
    }
    const hands = await Promise.all([ann, bob].map((p) => p.page.$$eval("#hand .card", (cs) => cs.map((c) => c.textContent))));
    assert.equal(new Set([...hands[0], ...hands[1]]).size, 10, `hands overlap: ${hands[0]} / ${hands[1]}`);
    // Whoever's turn it is draws; their hand grows and the turn passes.
    const mover = (await ann.page.textContent("#status")) === "Your turn." ? ann : bob;
    const other = mover === ann ? bob : ann;
    await mover.page.click("#draw");
    await mover.page.waitForFunction(() => document.querySelectorAll("#hand .card").length === 6, null, wait);
    await other.page.waitForFunction(() => document.querySelector("#status")?.textContent === "Your turn.", null, wait);
    assert.match(await other.page.textContent("#seats"), /6 cards/);
    await ann.page.screenshot({ path: join(ARTIFACTS, "example-cards.png") });
    await bob.page.screenshot({ path: join(ARTIFACTS, "example-cards-phone.png") });
    assert.deepEqual([...ann.errors, ...bob.errors], []);
  });

  test("pong: two players see the court and the score line", async () => {
    const srv = await startExample("pong", dir);
    cleanups.push(async () => srv.stop());
    const ann = await open(srv.url, "ann");
    const bob = await open(srv.url, "bob");
    for (const p of [ann, bob]) {
      await p.page.waitForSelector("#court:not([hidden])", wait);
      await p.page.waitForFunction(() => document.querySelector("#status")?.textContent?.startsWith("first to"), null, wait);
    }
    await ann.page.keyboard.down("ArrowUp");
    await ann.page.waitForTimeout(400);
    await ann.page.keyboard.up("ArrowUp");
    await ann.page.screenshot({ path: join(ARTIFACTS, "example-pong.png") });
    assert.deepEqual([...ann.errors, ...bob.errors], []);
  });
});
