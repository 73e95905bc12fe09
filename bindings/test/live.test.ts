/**
 * Runtime behaviour against a live Weft server (`WEFT_URL`): token refresh
 * (single flight, retries, failure, event streams after a revoked session),
 * automatic batching, the timeout of `wait: true` calls, and resumption of
 * both event-stream clients (fetch-based and the ticketed EventSource)
 * across dropped connections. Connections are dropped by a TCP proxy the
 * test controls. Every wait is on a condition, bounded by a timeout.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, connect, type Server, type Socket } from "node:net";
import { EventSource } from "eventsource";

import {
  createClient,
  ErrorCodes,
  openTicketedEventSource,
  RpcError,
  type AuthFailure,
  type AuthSession,
  type EventMeta,
  type EventSourceConstructor,
  type EventSubscription,
  type FetchLike,
  type Graph,
  type Topic,
  type WeftClient,
  type WeftEvent,
  type WorkflowId,
  type ProjectId,
} from "../src/index.js";

const WAIT_MS = 15_000;
const PASSWORD = "violet-Tangerine-88-harbour";
const baseUrl = process.env["WEFT_URL"] ?? "";

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

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/** Resolves once `condition()` holds, checking after every event of `log`. */
class Log<T> {
  readonly items: T[] = [];
  #waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  push(item: T): void {
    this.items.push(item);
    this.#check();
  }
  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
  until(test: () => boolean, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.#waiters.push({ test, resolve })), what);
  }
  /** Re-checks the conditions (for state changed outside `push`). */
  poke(): void {
    this.#check();
  }
}

/** A fetch that counts the JSON-RPC methods of every POST. */
function countingFetch(): { fetch: FetchLike; posts: string[][] } {
  const posts: string[][] = [];
  const fetch: FetchLike = (url, init) => {
    if (init.method === "POST" && typeof init.body === "string") {
      const body = JSON.parse(init.body) as { method: string } | Array<{ method: string }>;
      posts.push(Array.isArray(body) ? body.map((b) => b.method) : [body.method]);
    }
    return globalThis.fetch(url, init);
  };
  return { fetch, posts };
}

/** A TCP proxy to the server whose connections the test can cut. */
class Proxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #refusing = false;
  url = "";

  constructor(target: URL) {
    this.#server = createServer((client) => {
      if (this.#refusing) {
        client.destroy();
        return;
      }
      const upstream = connect(Number(target.port || 80), target.hostname);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const cleanup = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on("error", cleanup).on("close", cleanup);
      upstream.on("error", cleanup).on("close", cleanup);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    assert.ok(address !== null && typeof address === "object");
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  /** Cuts every open connection and refuses new ones until `restore()`. */
  cut(): void {
    this.#refusing = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  restore(): void {
    this.#refusing = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const graph = (extra: Graph["nodes"] = []): Graph => ({
  nodes: [
    { id: "start", name: "Start", type: "start", position: { x: 0, y: 0 }, config: {} },
    ...extra,
    { id: "done", name: "Done", type: "end", position: { x: 400, y: 0 }, config: { output: "{{ input }}" } },
  ],
  edges:
    extra.length === 0
      ? [{ source: "start", sourcePort: "out", target: "done", targetPort: "in" }]
      : [
          { source: "start", sourcePort: "out", target: extra[0]!.id, targetPort: "in" },
          { source: extra[0]!.id, sourcePort: "out", target: "done", targetPort: "in" },
        ],
});

/** A valid token with its signature broken: the server answers `invalidToken`. */
const tamper = (token: string): string => {
  const [header, payload, signature] = token.split(".");
  return `${header}.${payload}.${(signature ?? "").slice(0, 4)}${signature?.[4] === "A" ? "B" : "A"}${(signature ?? "").slice(5)}`;
};

let email = "";
let anonymous: WeftClient;
/** A session of the test user that stays valid throughout (for setup and outside actions). */
let owner: AuthSession;
let ownerClient: WeftClient;

before(async () => {
  assert.ok(baseUrl.trim() !== "", "WEFT_URL is not set: start the Weft server and set WEFT_URL to its base URL");
  email = `live-${randomUUID()}@example.com`;
  anonymous = createClient({ baseUrl, timeoutMs: WAIT_MS });
  owner = await within(anonymous.auth.register({ email, password: PASSWORD, displayName: "Live Tester" }), "register");
  ownerClient = createClient({ baseUrl, getAccessToken: () => owner.accessToken, timeoutMs: WAIT_MS });
});

async function login(): Promise<AuthSession> {
  return within(anonymous.auth.login({ email, password: PASSWORD }), "auth.login");
}

async function workflow(name: string): Promise<{ id: WorkflowId; topic: Topic }> {
  const project = await within(ownerClient.project.create({ name }), "project.create");
  const created = await within(
    ownerClient.workflow.create({ projectId: project.id, name, graph: graph() }),
    "workflow.create",
  );
  return { id: created.workflow.id, topic: `workflow:${created.workflow.id}` };
}

async function patch(workflowId: WorkflowId, expectedVersion: number): Promise<void> {
  await within(
    ownerClient.workflow.patchGraph({
      workflowId,
      expectedVersion,
      patch: [{ op: "replace", path: "/nodes/1/name", value: `v${expectedVersion + 1}` }],
    }),
    `patch to v${expectedVersion + 1}`,
  );
}

const patchedVersions = (log: Log<{ event: WeftEvent; meta: EventMeta }>): number[] =>
  log.items.flatMap((r) => (r.event.type === "workflow.patched" ? [r.event.version] : []));

// ---------------------------------------------------------------------------

test("the server refuses a broken token with UNAUTHENTICATED / invalidToken", async () => {
  const broken = createClient({ baseUrl, getAccessToken: () => tamper(owner.accessToken) });
  const error = await within(broken.auth.me({}).catch((e: unknown) => e), "auth.me");
  assert.ok(error instanceof RpcError && error.code === ErrorCodes.UNAUTHENTICATED);
  assert.equal(error.dataOf("unauthenticated")?.reason, "invalidToken");
});

test("concurrent refused calls share one refresh (through auth.refresh) and are retried", async () => {
  let session = await login();
  let token = tamper(session.accessToken);
  let refreshes = 0;
  const counter = countingFetch();
  const client: WeftClient = createClient({
    baseUrl,
    fetch: counter.fetch,
    timeoutMs: WAIT_MS,
    getAccessToken: () => token,
    refreshAccessToken: async () => {
      refreshes += 1;
      // A public procedure through the same client: it never waits for this refresh.
      session = await client.auth.refresh({ refreshToken: session.refreshToken });
      token = session.accessToken;
      return token;
    },
  });
  const [me, sessions, projects, notifications] = await within(
    Promise.all([client.auth.me({}), client.auth.sessions({}), client.project.list({}), client.notification.list({})]),
    "four calls",
  );
  assert.equal(me.id, owner.user.id);
  assert.ok(sessions.items.some((s) => s.id === session.sessionId));
  assert.ok(Array.isArray(projects.items));
  assert.ok(Array.isArray(notifications.items));
  assert.equal(refreshes, 1);
  assert.deepEqual(counter.posts, [
    ["auth.me", "auth.sessions", "project.list", "notification.list"],
    ["auth.refresh"],
    ["auth.me", "auth.sessions", "project.list", "notification.list"],
  ]);
});

test("a failed refresh rejects the calls with the server's error and signals onAuthFailure once", async () => {
  const failures: AuthFailure[] = [];
  const client: WeftClient = createClient({
    baseUrl,
    timeoutMs: WAIT_MS,
    getAccessToken: () => tamper(owner.accessToken),
    refreshAccessToken: async () => (await client.auth.refresh({ refreshToken: "not-a-refresh-token" })).accessToken,
    onAuthFailure: (failure) => failures.push(failure),
  });
  const errors = await within(
    Promise.all([client.auth.me({}), client.auth.sessions({})].map((p) => p.catch((e: unknown) => e))),
    "the refused calls",
  );
  for (const error of errors) {
    assert.ok(error instanceof RpcError && error.isUnauthenticated(), String(error));
    assert.equal(error.dataOf("unauthenticated")?.reason, "invalidToken");
  }
  assert.equal(failures.length, 1);
  const thrown = failures[0]?.refreshError;
  assert.ok(thrown instanceof RpcError && thrown.isUnauthenticated());
  assert.equal(thrown.dataOf("unauthenticated")?.reason, "invalidRefreshToken");
});

test("batching against the server: one POST per tick, errors to the right caller, splits at maxSize, off switch", async () => {
  const counter = countingFetch();
  const client = createClient({ baseUrl, fetch: counter.fetch, getAccessToken: () => owner.accessToken, timeoutMs: WAIT_MS });
  const missing = "00000000-0000-7000-8000-000000000000" as ProjectId;
  const [me, project, sessions] = await within(
    Promise.allSettled([client.auth.me({}), client.project.get({ projectId: missing }), client.auth.sessions({})]),
    "three calls",
  );
  assert.deepEqual(counter.posts, [["auth.me", "project.get", "auth.sessions"]]);
  assert.ok(me.status === "fulfilled" && me.value.id === owner.user.id);
  assert.ok(sessions.status === "fulfilled" && sessions.value.items.length > 0);
  assert.ok(project.status === "rejected" && project.reason instanceof RpcError && project.reason.isNotFound());
  assert.equal((project.reason as RpcError).method, "project.get");

  counter.posts.length = 0;
  const many = await within(Promise.all(Array.from({ length: 60 }, () => client.auth.me({}))), "60 calls");
  assert.ok(many.every((m) => m.id === owner.user.id));
  assert.deepEqual(
    counter.posts.map((p) => p.length),
    [50, 10],
    "split at the server's default batch limit",
  );

  const unbatched = countingFetch();
  const off = createClient({
    baseUrl,
    fetch: unbatched.fetch,
    batching: false,
    getAccessToken: () => owner.accessToken,
    timeoutMs: WAIT_MS,
  });
  await within(Promise.all([off.auth.me({}), off.auth.sessions({}), off.project.list({})]), "three unbatched calls");
  assert.equal(unbatched.posts.length, 3);
});

test("workflow.execute with wait: true outlives a client timeout shorter than the wait", async () => {
  const project = await within(ownerClient.project.create({ name: "Waits" }), "project.create");
  const created = await within(
    ownerClient.workflow.create({
      projectId: project.id,
      name: "Slow",
      graph: graph([{ id: "pause", name: "Pause", type: "delay", position: { x: 200, y: 0 }, config: { durationMs: 1500 } }]),
    }),
    "workflow.create",
  );
  assert.equal(created.validation.valid, true, JSON.stringify(created.validation));
  // The client's own timeout (500 ms) is far below the run time; the call asks
  // the server to wait, so its timeout is waitTimeoutMs + 10 s.
  const client = createClient({ baseUrl, getAccessToken: () => owner.accessToken, timeoutMs: 500 });
  const result = await within(
    client.workflow.execute({ workflowId: created.workflow.id, version: 1, input: {}, wait: true, waitTimeoutMs: 10_000 }),
    "the waited run",
    30_000,
  );
  assert.equal(result.run.status, "succeeded");
});

test("an event stream whose session is revoked refreshes (logging in again) and resumes after its last id", async () => {
  const { id, topic } = await workflow("Revoked stream");
  let session = await login();
  let refreshes = 0;
  const refreshStarted = deferred();
  const proceed = deferred();
  const client: WeftClient = createClient({
    baseUrl,
    timeoutMs: WAIT_MS,
    getAccessToken: () => session.accessToken,
    refreshAccessToken: async () => {
      refreshes += 1;
      refreshStarted.resolve();
      await proceed.promise;
      try {
        session = await client.auth.refresh({ refreshToken: session.refreshToken });
      } catch (error) {
        // The session is over (its refresh token too): log in again.
        assert.ok(error instanceof RpcError && error.isUnauthenticated());
        session = await login();
      }
      return session.accessToken;
    },
  });
  const log = new Log<{ event: WeftEvent; meta: EventMeta }>();
  let opens = 0;
  const sub = client.rpc.subscribeEvents({
    topics: [topic],
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    onEvent: (event, meta) => log.push({ event, meta }),
    onOpen: () => {
      opens += 1;
      log.poke();
    },
  });
  try {
    await log.until(() => log.items.some((r) => r.event.type === "heartbeat"), "the first heartbeat");
    await patch(id, 1);
    await log.until(() => patchedVersions(log).includes(2), "workflow.patched v2");

    await within(ownerClient.auth.revokeSession({ sessionId: session.sessionId }), "auth.revokeSession");
    await within(refreshStarted.promise, "the stream's refresh after the revocation");
    await patch(id, 2); // while the stream is down
    proceed.resolve();
    await log.until(() => opens >= 2 && patchedVersions(log).includes(3), "workflow.patched v3 after reconnecting");
    await patch(id, 3);
    await log.until(() => patchedVersions(log).includes(4), "workflow.patched v4");
    assert.deepEqual(patchedVersions(log), [2, 3, 4], "no duplicates, no gaps");
    assert.equal(refreshes, 1);
    assert.equal(sub.state, "open");
  } finally {
    sub.close();
  }
});

for (const kind of ["subscribeEvents (fetch)", "openTicketedEventSource (EventSource)"] as const) {
  test(`${kind} resumes after the connection drops: no duplicates, no gaps`, async () => {
    const { id, topic } = await workflow(`Drop ${kind}`);
    const proxy = await new Proxy(new URL(baseUrl)).start();
    let session = await login();
    let token = tamper(session.accessToken); // starts refused: the stream/ticket goes through a refresh
    let refreshes = 0;
    const counter = countingFetch();
    const client: WeftClient = createClient({
      baseUrl: proxy.url,
      fetch: counter.fetch,
      timeoutMs: 2_000,
      getAccessToken: () => token,
      refreshAccessToken: async () => {
        refreshes += 1;
        session = await client.auth.refresh({ refreshToken: session.refreshToken });
        token = session.accessToken;
        return token;
      },
    });
    const urls: string[] = [];
    class RecordingEventSource extends EventSource {
      constructor(url: string | URL, init?: { withCredentials?: boolean }) {
        super(url, init);
        urls.push(String(url));
      }
    }
    const log = new Log<{ event: WeftEvent; meta: EventMeta }>();
    const errors: Error[] = [];
    let opens = 0;
    const common = {
      topics: [topic],
      reconnect: { initialDelayMs: 50, maxDelayMs: 250 },
      onEvent: (event: WeftEvent, meta: EventMeta) => log.push({ event, meta }),
      onOpen: () => {
        opens += 1;
        log.poke();
      },
      onError: (error: Error) => {
        errors.push(error);
        log.poke();
      },
    };
    const sub: EventSubscription =
      kind === "subscribeEvents (fetch)"
        ? client.rpc.subscribeEvents(common)
        : openTicketedEventSource(client, { ...common, EventSource: RecordingEventSource satisfies EventSourceConstructor });
    try {
      await log.until(() => log.items.some((r) => r.event.type === "heartbeat"), "the first heartbeat");
      assert.equal(refreshes, 1, "the refused token was refreshed once");
      await patch(id, 1);
      await log.until(() => patchedVersions(log).includes(2), "workflow.patched v2");
      const lastId = log.items.find((r) => r.event.type === "workflow.patched")?.meta.id;
      assert.ok(lastId !== undefined);

      const errorsBefore = errors.length;
      proxy.cut();
      await log.until(() => errors.length > errorsBefore, "the client to notice the cut");
      await patch(id, 2);
      await patch(id, 3);
      proxy.restore();
      await log.until(() => opens >= 2 && patchedVersions(log).includes(4), "v3 and v4 after reconnecting");
      await patch(id, 4);
      await log.until(() => patchedVersions(log).includes(5), "workflow.patched v5");
      assert.deepEqual(patchedVersions(log), [2, 3, 4, 5], "no duplicates, no gaps");
      assert.equal(refreshes, 1);
      if (kind === "openTicketedEventSource (EventSource)") {
        const tickets = counter.posts.flat().filter((m) => m === "auth.streamTicket").length;
        assert.ok(tickets >= 2, `a fresh ticket per connection (${tickets})`);
        const tickets_ = urls.map((u) => new URL(u).searchParams.get("ticket"));
        assert.equal(new Set(tickets_).size, urls.length, "never the same ticket twice");
        const resumed = urls.slice(1).map((u) => new URL(u).searchParams.get("lastEventId"));
        assert.ok(resumed.every((r) => r !== null && Number(r) >= Number(lastId)), `resumed from ${resumed.join(",")}`);
        assert.ok(log.items.every((r) => r.meta.type === r.event.type), "named events");
      }
    } finally {
      sub.close();
      await within(sub.done, "the subscription to end", 2_000);
      await proxy.stop();
    }
  });
}
