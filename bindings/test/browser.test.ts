/**
 * The client in a real browser: headless Chromium (the system's, through
 * puppeteer-core) loads `test/browser/page.ts` from one origin and talks to a
 * Weft server on another (`WEFT_CORS_ORIGINS`), so calls and both event
 * streams go through CORS preflights as in an app.
 *
 * - Both streams — `client.rpc.subscribeEvents` (fetch, `Authorization` and
 *   `Last-Event-ID` headers) and `openTicketedEventSource` (the browser's
 *   EventSource, a fresh ticket per connection) — follow a run whose server is
 *   killed (SIGKILL) during the run's delay, kept down until the page's access
 *   token has expired, and started again on the same port and SQLite file; each
 *   must come back through a token refresh and deliver every event of the run
 *   exactly once, in order, as the server's log (replayed from the start) has them.
 * - Access tokens live 1 s (+ the server's 5 s leeway): calls keep working
 *   across expiries through `refreshAccessToken` → `auth.refresh`.
 * - The server's own playground (`/playground`): sign in, call `auth.me`, watch.
 *
 * The test starts the server itself: `WEFT_BIN` is the `weft` binary (set by
 * `cargo xtask e2e`). Without it the test is skipped, except in CI (`CI` set),
 * where it fails. `WEFT_CHROMIUM` overrides `/usr/bin/chromium`;
 * `WEFT_BROWSER_SCREENSHOT=<file.png>` saves a screenshot of the playground.
 * Every wait is on a condition, bounded by a timeout.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser, type ConsoleMessage, type EvaluateFunc, type Page } from "puppeteer-core";

import type { Harness, HarnessState, Seen, StreamName } from "./browser/page.js";

const WAIT_MS = 20_000;
const PASSWORD = "violet-Tangerine-88-harbour";
const DELAY_MS = 2_000;
/** The server's leeway on `exp` (`crates/server/src/settings.rs`, `api_config`). */
const TOKEN_LEEWAY_S = 5;
const bin = process.env["WEFT_BIN"] ?? "";
const chromium = process.env["WEFT_CHROMIUM"] ?? "/usr/bin/chromium";
const screenshot = process.env["WEFT_BROWSER_SCREENSHOT"] ?? "";
const inCi = (process.env["CI"] ?? "") !== "";

function skipReason(): string | false {
  const missing =
    bin === ""
      ? "WEFT_BIN (the weft binary) is not set"
      : !existsSync(bin)
        ? `WEFT_BIN=${bin} does not exist`
        : !existsSync(chromium)
          ? `no Chromium at ${chromium} (apt-get install chromium, or set WEFT_CHROMIUM)`
          : "";
  if (missing === "") return false;
  if (inCi) throw new Error(`the browser test must run in CI: ${missing}`);
  return `browser test skipped: ${missing}`;
}

async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` in Node every 50 ms until it holds, bounded. */
async function poll(what: string, condition: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

/** A `weft serve` child process on a fixed port and data dir, restartable. */
class WeftServer {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  log = "";
  readonly url: string;

  constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("WEFT_")) env[key] = value;
    }
    const child = spawn(bin, ["serve"], {
      cwd: this.dataDir, // no stray .env
      env: { ...env, WEFT_ADDR: `127.0.0.1:${this.port}`, WEFT_DATA_DIR: this.dataDir, WEFT_LOG: "warn", ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    let exit = "";
    this.#exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        exit = `exited with ${signal ?? code}`;
        resolve();
      }),
    );
    const keep = (chunk: Buffer): void => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exit !== "") throw new Error(`weft ${exit} during start-up:\n${this.log}`);
      const ready = await fetch(`${this.url}/ready`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`weft did not become ready within 30 s:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await within(this.#exited, `weft to exit on ${signal}`);
  }
}

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Weft browser test</title>
<script type="module" src="/test/browser/page.js"></script>
</head>
<body>
<p id="status">loading</p>
<h2>fetch (subscribeEvents)</h2><ol id="events-fetch"></ol>
<h2>EventSource (openTicketedEventSource)</h2><ol id="events-eventSource"></ol>
<h2>replay from the start</h2><ol id="events-replay"></ol>
</body>
</html>
`;

/** Serves the test page and the built client (`dist/`) from an origin of its own. */
async function startPageServer(): Promise<{ server: Server; origin: string }> {
  const dist = fileURLToPath(new URL("../", import.meta.url));
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://page").pathname;
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE_HTML);
      return;
    }
    if (/^\/(src\/[a-z]+\.js|test\/browser\/page\.js)$/.test(path)) {
      try {
        const body = readFileSync(join(dist, path));
        response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(body);
        return;
      } catch {
        // not built: 404 below
      }
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

const skip = skipReason();

describe("the client and the playground in headless Chromium", { skip }, () => {
  let pages: { server: Server; origin: string } | undefined;
  let weft: WeftServer | undefined;
  let dataDir = "";
  let browser: Browser | undefined;
  let page: Page;
  let pageOpened = false;
  const pageErrors: string[] = [];
  /** Console errors other than failed requests (expected while the server is down). */
  const consoleErrors: string[] = [];
  const onConsole = (where: string, message: ConsoleMessage): void => {
    if (message.type() === "error" && !/^Failed to load resource|net::ERR_/.test(message.text())) {
      consoleErrors.push(`${where}: ${message.text()}`);
    }
  };
  const email = `browser-${randomUUID()}@example.com`;
  let runId = "";

  const state = (): Promise<HarnessState> =>
    page.evaluate(() => {
      const harness = window.harness;
      if (harness === undefined) throw new Error("no harness");
      return harness.state;
    });

  /** The events a stream rendered into the page. */
  const rendered = (name: StreamName): Promise<Seen[]> =>
    page.$$eval(`#events-${name} li`, (items) =>
      items.map((li) => ({
        id: li.dataset["id"] ?? "",
        type: li.dataset["type"] ?? "",
        runId: li.dataset["runId"] ?? "",
        nodeId: li.dataset["nodeId"] ?? "",
      })),
    );

  /** Waits until `condition` holds in the page (polled), bounded. */
  const until = async <A>(what: string, condition: EvaluateFunc<[A]>, arg: A, ms = WAIT_MS): Promise<void> => {
    try {
      await page.waitForFunction(condition, { polling: 25, timeout: ms }, arg);
    } catch (error) {
      const snapshot = await state().catch(() => undefined);
      throw new Error(`${what}: ${String(error)}\npage state: ${JSON.stringify(snapshot)}\nserver log:\n${weft?.log ?? ""}`);
    }
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "weft-browser-"));
    pages = await startPageServer();
    weft = new WeftServer(await freePort(), dataDir, {
      WEFT_CORS_ORIGINS: pages.origin,
      WEFT_ACCESS_TOKEN_TTL: "1s",
      WEFT_HEARTBEAT_INTERVAL: "1s",
    });
    await weft.start();
    browser = await within(
      puppeteer.launch({
        executablePath: chromium,
        headless: true,
        args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        timeout: WAIT_MS,
      }),
      "Chromium to start",
    );
    page = await browser.newPage();
    pageOpened = true;
    page.setDefaultTimeout(WAIT_MS);
    page.on("pageerror", (error) => pageErrors.push(`test page: ${String(error)}`));
    page.on("console", (message) => onConsole("test page", message));
    await page.goto(`${pages.origin}/?server=${encodeURIComponent(weft.url)}`);
    await page.waitForFunction(() => window.harness !== undefined);
  });

  after(async () => {
    // Each step bounded and on its own, so a failed start-up still cleans up the rest.
    if (pageOpened) {
      await within(
        page.evaluate(() => window.harness?.closeAll()),
        "the page's streams to close",
        5_000,
      ).catch(() => undefined);
    }
    if (browser !== undefined) {
      const process = browser.process();
      await within(browser.close(), "Chromium to close", 10_000).catch(() => process?.kill("SIGKILL"));
    }
    await weft?.kill("SIGKILL").catch(() => undefined);
    if (pages !== undefined) {
      pages.server.closeAllConnections();
      await new Promise<void>((resolve) => pages?.server.close(() => resolve()));
    }
    if (dataDir !== "") rmSync(dataDir, { recursive: true, force: true });
  });

  test("both event streams deliver every event of a run once, in order, across a server restart", { timeout: 90_000 }, async (t) => {
    assert.ok(weft !== undefined);
    const started = Date.now();
    await page.evaluate(
      async (e, p, delay) => {
        const harness = window.harness as Harness;
        await harness.signUp(e, p);
        await harness.createWorkflow(delay);
        harness.follow();
      },
      email,
      PASSWORD,
      DELAY_MS,
    );
    await until(
      "both streams open (a heartbeat each)",
      () => {
        const s = window.harness?.state.streams;
        return s !== undefined && s.fetch.heartbeats > 0 && s.eventSource.heartbeats > 0;
      },
      null,
    );
    runId = await page.evaluate(() => (window.harness as Harness).execute());

    // The run is in its delay: kill the server.
    await until(
      "node.started for the delay on both streams",
      (id) =>
        ["fetch", "eventSource"].every((name) =>
          Array.from(document.querySelectorAll<HTMLElement>(`#events-${name} li`)).some(
            (li) => li.dataset["runId"] === id && li.dataset["type"] === "node.started" && li.dataset["nodeId"] === "pause",
          ),
        ),
      runId,
    );
    const errorsBefore = await state().then((s) => [s.streams.fetch.errors.length, s.streams.eventSource.errors.length]);
    await weft.kill("SIGKILL");
    const killedAt = Date.now();
    const cut = { fetch: (await rendered("fetch")).length, eventSource: (await rendered("eventSource")).length };
    await until(
      "both streams to notice the server is gone",
      ([f, e]) => {
        const s = window.harness?.state.streams;
        return s !== undefined && s.fetch.errors.length > (f ?? 0) && s.eventSource.errors.length > (e ?? 0);
      },
      errorsBefore,
    );

    // Keep the server down until the page's access token has expired (1 s + the leeway), so
    // that both streams come back through a token refresh: the fetch stream on HTTP 401 from
    // /events, the EventSource on a ticket refused as expired.
    const expiry = Date.parse((await state()).accessTokenExpiresAt);
    const expired = (Math.floor(expiry / 1000) + TOKEN_LEEWAY_S + 1) * 1000;
    await poll("the access token to expire", () => Date.now() > expired, TOKEN_LEEWAY_S * 1000 + 5_000);
    await weft.start(); // same port, same SQLite file
    const downFor = Date.now() - killedAt;
    await until(
      "run.succeeded on both streams after the restart",
      (id) =>
        ["fetch", "eventSource"].every((name) =>
          Array.from(document.querySelectorAll<HTMLElement>(`#events-${name} li`)).some(
            (li) => li.dataset["runId"] === id && li.dataset["type"] === "run.succeeded",
          ),
        ),
      runId,
    );

    const s = await state(); // before the replay's own connection
    // The server's log of the workflow's topic, replayed from the start.
    await page.evaluate(() => (window.harness as Harness).replay());
    await until(
      "the replay to reach run.succeeded",
      (id) =>
        Array.from(document.querySelectorAll<HTMLElement>("#events-replay li")).some(
          (li) => li.dataset["runId"] === id && li.dataset["type"] === "run.succeeded",
        ),
      runId,
    );
    const ofRun = (seen: Seen[]): string[] =>
      seen.filter((s) => s.runId === runId).map((s) => `${s.id} ${s.type}${s.nodeId === "" ? "" : ` ${s.nodeId}`}`);
    const replayed = ofRun(await rendered("replay"));
    assert.equal(replayed[0]?.split(" ")[1], "run.started", replayed.join("\n"));
    assert.equal(replayed.at(-1)?.split(" ")[1], "run.succeeded", replayed.join("\n"));

    for (const name of ["fetch", "eventSource"] as const) {
      const seen = await rendered(name);
      const ids = seen.map((e) => Number(e.id));
      assert.ok(
        ids.every((id, i) => Number.isSafeInteger(id) && (i === 0 || id > (ids[i - 1] ?? 0))),
        `${name}: ids strictly increasing, no duplicates: ${ids.join(",")}`,
      );
      assert.deepEqual(ofRun(seen), replayed, `${name}: every event of the run once, in the server's order`);
      const before = seen.slice(0, cut[name]);
      const afterRestart = seen.slice(cut[name]);
      assert.ok(
        !before.some((e) => e.type === "node.succeeded" && e.nodeId === "pause"),
        `${name}: the server was killed during the delay (${ofRun(before).join(", ")})`,
      );
      assert.ok(
        afterRestart.some((e) => e.type === "node.succeeded" && e.nodeId === "pause"),
        `${name}: the rest of the run arrived after the restart`,
      );
      assert.ok(s.streams[name].opens >= 2, `${name}: reconnected (${s.streams[name].opens} opens)`);
      assert.equal(s.streams[name].ended, null, `${name}: still running`);
    }
    // Both came back through one refresh of the expired token.
    assert.equal(s.refreshes, 1, "one refresh, shared by both streams");
    assert.ok(
      s.expiredRefusals > 0 || s.eventsRequests.some((r) => r.status === 401),
      `a refusal of the expired token: ${JSON.stringify(s.eventsRequests)}`,
    );
    assert.deepEqual(s.refreshFailures, []);
    assert.equal(s.authFailures, 0);
    // The fetch stream resumed with Last-Event-ID (and its Authorization header).
    const lastBeforeKill = Number((await rendered("fetch"))[cut.fetch - 1]?.id);
    const resumed = s.eventsRequests.slice(1);
    assert.ok(resumed.length > 0 && s.eventsRequests.every((r) => r.authorized));
    assert.equal(s.eventsRequests.at(-1)?.status, 200);
    assert.ok(
      resumed.every((r) => Number(r.lastEventId) >= lastBeforeKill),
      `fetch reconnections sent Last-Event-ID >= ${lastBeforeKill}: ${resumed.map((r) => r.lastEventId).join(",")}`,
    );
    // The EventSource took a fresh ticket for every connection and resumed after its last id.
    const urls = s.eventSourceUrls.map((u) => new URL(u));
    const tickets = urls.map((u) => u.searchParams.get("ticket"));
    assert.ok(urls.length >= 2, `EventSource connections: ${urls.length}`);
    assert.equal(new Set(tickets).size, urls.length, "never the same ticket twice");
    const esLastBeforeKill = Number((await rendered("eventSource"))[cut.eventSource - 1]?.id);
    assert.ok(
      urls.slice(1).every((u) => Number(u.searchParams.get("lastEventId")) >= esLastBeforeKill),
      `EventSource reconnections resumed after ${esLastBeforeKill}: ${urls.map((u) => u.searchParams.get("lastEventId")).join(",")}`,
    );
    assert.deepEqual(pageErrors, []);
    t.diagnostic(
      `run of ${replayed.length} events; server down for ${downFor} ms; ${Date.now() - started} ms in all; ` +
        `${s.eventsRequests.length} fetch connections (${s.eventsRequests.filter((r) => r.status === 401).length} answered 401), ` +
        `${urls.length} EventSources, ${s.refreshes} token refresh(es), ${s.expiredRefusals} call(s) refused as expired`,
    );
  });

  test("calls keep working while access tokens expire (refreshAccessToken → auth.refresh)", { timeout: 60_000 }, async (t) => {
    const started = Date.now();
    const before = await state();
    await page.evaluate(() => (window.harness as Harness).startCalling(250));
    // A token lives 1 s plus the server's 5 s leeway: wait for the next refusal,
    // its refresh, and calls answered after it.
    await until(
      "an expired token refused, refreshed, and calls answered after the refresh",
      ([refreshes, refusals]) => {
        const s = window.harness?.state;
        return (
          s !== undefined &&
          s.refreshes > (refreshes ?? 0) &&
          s.expiredRefusals > (refusals ?? 0) &&
          s.calls.okSinceRefresh >= 3
        );
      },
      [before.refreshes, before.expiredRefusals],
      30_000,
    );
    await page.evaluate(() => (window.harness as Harness).stopCalling());
    const s = await state();
    assert.deepEqual(s.calls.failed, [], "no call failed");
    assert.deepEqual(s.refreshFailures, []);
    assert.equal(s.authFailures, 0);
    for (const name of ["fetch", "eventSource"] as const) {
      assert.equal(s.streams[name].ended, null, `${name}: still running`);
      const ids = (await rendered(name)).map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, `${name}: no duplicates`);
    }
    assert.deepEqual(pageErrors, []);
    t.diagnostic(
      `${s.calls.ok} calls, ${s.refreshes} refreshes in all (${s.expiredRefusals} expired-token refusals) in ${Date.now() - started} ms`,
    );
  });

  test("the playground: sign in, call auth.me, watch events", { timeout: 60_000 }, async () => {
    assert.ok(weft !== undefined && browser !== undefined);
    const playground = await browser.newPage();
    playground.setDefaultTimeout(WAIT_MS);
    await playground.setViewport({ width: 1280, height: 800 });
    const dialogs: string[] = [];
    playground.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    playground.on("pageerror", (error) => pageErrors.push(`playground: ${String(error)}`));
    playground.on("console", (message) => onConsole("playground", message));
    try {
      await playground.goto(`${weft.url}/playground`);
      await playground.waitForSelector('#procedures li[data-method="auth.me"]');
      await playground.type("#email", email);
      await playground.type("#password", PASSWORD);
      await playground.click("#login");
      await playground.waitForFunction((e) => document.getElementById("whoami")?.textContent?.includes(e) === true, {}, email);

      await playground.click('#procedures li[data-method="auth.me"]');
      await playground.waitForSelector("#call");
      await playground.click("#call");
      await playground.waitForFunction(
        (e) => {
          const result = document.getElementById("result");
          return result !== null && !result.hidden && result.textContent?.includes(e) === true;
        },
        {},
        email,
      );
      assert.notEqual(await playground.$eval("#result", (el) => el.className), "error");

      await playground.click("#watch");
      await playground.waitForFunction(() => document.getElementById("stream-state")?.textContent?.startsWith("Watching") === true);
      // Something to see: another run of the workflow (started from the test page).
      await page.evaluate(() => (window.harness as Harness).execute());
      await playground.waitForFunction(
        () => Array.from(document.querySelectorAll("#events li b")).some((b) => b.textContent === "run.started"),
      );
      if (screenshot !== "") await playground.screenshot({ path: screenshot as `${string}.png` });
      assert.deepEqual(dialogs, []);
      assert.deepEqual(pageErrors, []);
      assert.deepEqual(consoleErrors, []);
    } finally {
      await playground.close();
    }
  });
});
