/**
 * Runtime tests that need no server: a scripted `fetch` controls exactly when
 * each step of a call settles, so cancellation, timeouts, batching and token
 * refresh can be checked at every await. Nothing sleeps a fixed time before
 * an assertion; tests wait on promises that settle when the condition holds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  ErrorCodes,
  RpcError,
  RpcTransport,
  TransportError,
  createClient,
  isTokenRefused,
  openTicketedEventSource,
  subscribeEvents,
  type AuthFailure,
  type EventSourceConstructor,
  type EventSourceEvent,
  type EventSourceLike,
  type FetchLike,
  type Procedures,
  type ProjectId,
  type WorkflowId,
} from "../src/index.js";

const BASE = "http://weft.invalid";

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A promise that never settles. */
const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** Rejects if `promise` takes longer than `ms` (a bound on "promptly", not a sleep). */
async function within<T>(promise: Promise<T>, what: string, ms = 2_000): Promise<T> {
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

async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await within(promise, what);
  } catch (error) {
    return error;
  }
  assert.fail(`${what}: expected a rejection`);
}

async function transportFailure(promise: Promise<unknown>, kind: string, what: string): Promise<TransportError> {
  const error = await rejection(promise, what);
  assert.ok(error instanceof TransportError, `${what}: expected a TransportError, got ${String(error)}`);
  assert.equal(error.kind, kind, `${what}: ${error.message}`);
  return error;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

interface Request {
  url: string;
  init: RequestInit;
  body: unknown;
  authorization: string | null;
}

/**
 * A scripted fetch: every request is recorded, and `respond` decides the
 * answer (a Response, or a promise of one).
 */
function scriptedFetch(respond: (request: Request) => Response | Promise<Response>): {
  fetch: FetchLike;
  requests: Request[];
  next: (count: number) => Promise<void>;
} {
  const requests: Request[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const fetch: FetchLike = (url, init) => {
    const headers = new Headers(init.headers);
    const request: Request = {
      url,
      init,
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
      authorization: headers.get("authorization"),
    };
    requests.push(request);
    for (const waiter of waiters.filter((w) => requests.length >= w.count)) waiter.resolve();
    return Promise.resolve().then(() => respond(request));
  };
  return {
    fetch,
    requests,
    next: (count) =>
      requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
  };
}

type Body = { id: number; method: string; params: unknown };

/** Answers each call of a (batch) request with `answer(call)`. */
function rpcAnswer(request: Request, answer: (call: Body) => { result: unknown } | { error: unknown }): Response {
  const one = (call: Body) => ({ jsonrpc: "2.0", id: call.id, ...answer(call) });
  return json(Array.isArray(request.body) ? (request.body as Body[]).map(one) : one(request.body as Body));
}

const refused = (reason: string) => ({
  error: { code: ErrorCodes.UNAUTHENTICATED, message: "Unauthenticated", data: { kind: "unauthenticated", reason } },
});

// ---------------------------------------------------------------------------
// Cancellation and timeouts at every await
// ---------------------------------------------------------------------------

test("abort while getAccessToken is pending rejects at once and sends nothing", async () => {
  const server = scriptedFetch(() => json({}));
  const tokenAsked = deferred();
  const client = createClient({
    baseUrl: BASE,
    fetch: server.fetch,
    getAccessToken: () => {
      tokenAsked.resolve();
      return never<string>();
    },
  });
  const controller = new AbortController();
  const call = client.auth.me({}, { signal: controller.signal });
  await within(tokenAsked.promise, "the token provider to be asked");
  controller.abort();
  await transportFailure(call, "aborted", "auth.me aborted during getAccessToken");
  assert.equal(server.requests.length, 0, "no request was sent");
});

test("the timeout covers a token provider that never answers", async () => {
  const server = scriptedFetch(() => json({}));
  const client = createClient({ baseUrl: BASE, fetch: server.fetch, getAccessToken: never, timeoutMs: 50 });
  await transportFailure(client.auth.me({}), "timeout", "auth.me with a hanging token provider");
  assert.equal(server.requests.length, 0);
});

test("abort while fetch hangs (even a fetch that ignores the signal) rejects at once", async () => {
  const server = scriptedFetch(() => never());
  const client = createClient({ baseUrl: BASE, fetch: server.fetch, batching: false });
  const controller = new AbortController();
  const call = client.auth.me({}, { signal: controller.signal });
  await within(server.next(1), "the request to be sent");
  controller.abort();
  await transportFailure(call, "aborted", "auth.me aborted during fetch");
  assert.equal((server.requests[0]?.init.signal as AbortSignal).aborted, true, "the request's signal fired");
});

test("abort while the response body is being read rejects at once", async () => {
  const bodyStarted = deferred();
  const server = scriptedFetch(
    () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"jsonrpc":"2.0",'));
            bodyStarted.resolve();
          },
        }),
        { status: 200, headers: { "content-type": "application/json" } },
      ),
  );
  const client = createClient({ baseUrl: BASE, fetch: server.fetch });
  const controller = new AbortController();
  const call = client.auth.me({}, { signal: controller.signal });
  await within(bodyStarted.promise, "the body to start");
  controller.abort();
  await transportFailure(call, "aborted", "auth.me aborted while reading the body");
});

test("an already aborted signal rejects without asking for a token", async () => {
  let asked = 0;
  const server = scriptedFetch(() => json({}));
  const client = createClient({
    baseUrl: BASE,
    fetch: server.fetch,
    getAccessToken: () => {
      asked += 1;
      return "t";
    },
  });
  await transportFailure(client.auth.me({}, { signal: AbortSignal.abort() }), "aborted", "pre-aborted call");
  await transportFailure(
    client.rpc.batch([["auth.me", {}]] as const, { signal: AbortSignal.abort() }),
    "aborted",
    "pre-aborted batch",
  );
  await transportFailure(client.rpc.notify("auth.me", {}, { signal: AbortSignal.abort() }), "aborted", "pre-aborted notify");
  assert.equal(asked, 0);
  assert.equal(server.requests.length, 0);
});

test("notify: abort while getAccessToken is pending sends nothing", async () => {
  const server = scriptedFetch(() => new Response(null, { status: 204 }));
  const client = createClient({ baseUrl: BASE, fetch: server.fetch, getAccessToken: never });
  const controller = new AbortController();
  const sent = client.rpc.notify("auth.me", {}, { signal: controller.signal });
  queueMicrotask(() => controller.abort());
  await transportFailure(sent, "aborted", "notify aborted during getAccessToken");
  assert.equal(server.requests.length, 0);
});

test("abort while waiting for a token refresh rejects at once and sends nothing more", async () => {
  const refreshStarted = deferred();
  const server = scriptedFetch((request) => rpcAnswer(request, () => refused("expiredToken")));
  const client = createClient({
    baseUrl: BASE,
    fetch: server.fetch,
    getAccessToken: () => "old",
    refreshAccessToken: () => {
      refreshStarted.resolve();
      return never<string>();
    },
  });
  const controller = new AbortController();
  const call = client.auth.me({}, { signal: controller.signal });
  await within(refreshStarted.promise, "the refresh to start");
  controller.abort();
  await transportFailure(call, "aborted", "auth.me aborted during the refresh");
  assert.equal(server.requests.length, 1, "no retry was sent");
});

test("wait: true gets the server's wait plus a margin; other calls keep the client timeout", async () => {
  const release = deferred();
  const server = scriptedFetch(async (request) => {
    await release.promise;
    return rpcAnswer(request, () => ({ result: { run: { id: "r" } } }));
  });
  // A client timeout far below the server's default 30 s wait.
  const client = createClient({ baseUrl: BASE, fetch: server.fetch, timeoutMs: 100 });
  let waitingSettled = false;
  const waiting = client.workflow.execute({ workflowId: "w" as WorkflowId, wait: true, waitTimeoutMs: 200 });
  void waiting.then(
    () => (waitingSettled = true),
    () => (waitingSettled = true),
  );
  const plain = client.workflow.execute({ workflowId: "w" as WorkflowId });
  await transportFailure(plain, "timeout", "a call without wait at the client timeout");
  assert.equal(waitingSettled, false, "the waiting call outlives the client timeout");
  release.resolve();
  const result = await within(waiting, "the waiting call");
  assert.deepEqual(result, { run: { id: "r" } });
  // Sent alone: a long wait never holds up other calls.
  assert.ok(server.requests.every((r) => !Array.isArray(r.body)));
});

test("the waiting call's timeout is waitTimeoutMs (default 30 s) + 10 s; an explicit timeoutMs wins", async () => {
  // An explicit timeout below the wait applies as given; without one, the
  // 5 ms client timeout does not cut a waiting call short.
  const server = scriptedFetch(() => never());
  const client = createClient({ baseUrl: BASE, fetch: server.fetch, timeoutMs: 5 });
  await transportFailure(
    client.workflow.execute({ workflowId: "w" as WorkflowId, wait: true }, { timeoutMs: 20 }),
    "timeout",
    "explicit timeout on a waiting call",
  );
  const error = await transportFailure(
    client.workflow.execute({ workflowId: "w" as WorkflowId, wait: true, waitTimeoutMs: 0 }, { signal: AbortSignal.timeout(300) }),
    "aborted",
    "a waiting call is not timed out at the 5 ms client timeout (the 10 s margin applies)",
  );
  assert.match(error.message, /aborted/);
});

// ---------------------------------------------------------------------------
// Batching
// ---------------------------------------------------------------------------

test("calls in the same tick share one POST; results and errors reach the right caller", async () => {
  const server = scriptedFetch((request) =>
    rpcAnswer(request, (call) =>
      call.method === "project.get"
        ? { error: { code: ErrorCodes.NOT_FOUND, message: "Not found", data: { kind: "notFound", resource: "project" } } }
        : { result: { method: call.method } },
    ),
  );
  const client = createClient({ baseUrl: BASE, fetch: server.fetch });
  const [me, project, sessions] = await within(
    Promise.allSettled([client.auth.me({}), client.project.get({ projectId: "p" as ProjectId }), client.auth.sessions({})]),
    "three calls",
  );
  assert.equal(server.requests.length, 1);
  const body = server.requests[0]?.body as Body[];
  assert.deepEqual(
    body.map((b) => b.method),
    ["auth.me", "project.get", "auth.sessions"],
  );
  assert.deepEqual(me, { status: "fulfilled", value: { method: "auth.me" } });
  assert.deepEqual(sessions, { status: "fulfilled", value: { method: "auth.sessions" } });
  assert.equal(project?.status, "rejected");
  const error = (project as PromiseRejectedResult).reason;
  assert.ok(error instanceof RpcError && error.isNotFound());
  assert.equal(error.method, "project.get");
});

test("batching: false sends each call alone; maxSize and maxBytes split batches", async () => {
  const answer = (request: Request) => rpcAnswer(request, (call) => ({ result: call.id }));
  const alone = scriptedFetch(answer);
  const off = createClient({ baseUrl: BASE, fetch: alone.fetch, batching: false });
  await within(Promise.all([off.auth.me({}), off.auth.me({}), off.auth.me({})]), "unbatched calls");
  assert.equal(alone.requests.length, 3);
  assert.ok(alone.requests.every((r) => !Array.isArray(r.body)));

  const split = scriptedFetch(answer);
  const small = createClient({ baseUrl: BASE, fetch: split.fetch, batching: { maxSize: 2 } });
  await within(Promise.all([1, 2, 3, 4, 5].map(() => small.auth.me({}))), "five calls");
  assert.deepEqual(
    split.requests.map((r) => (Array.isArray(r.body) ? r.body.length : 1)),
    [2, 2, 1],
  );

  const bytes = scriptedFetch(answer);
  const narrow = createClient({ baseUrl: BASE, fetch: bytes.fetch, batching: { maxBytes: 200 } });
  const name = "x".repeat(120);
  await within(Promise.all([narrow.project.create({ name }), narrow.project.create({ name })]), "two large calls");
  assert.equal(bytes.requests.length, 2, "two calls over maxBytes together go in two requests");
  for (const r of bytes.requests) assert.ok(String(r.init.body).length <= 200);
});

test("a call aborted before its batch is sent is left out; one aborted after rejects alone", async () => {
  const release = deferred();
  const server = scriptedFetch(async (request) => {
    await release.promise;
    return rpcAnswer(request, (call) => ({ result: call.method }));
  });
  const client = createClient({ baseUrl: BASE, fetch: server.fetch });
  const early = new AbortController();
  const late = new AbortController();
  const a = client.auth.me({}, { signal: early.signal });
  const b = client.auth.sessions({}, { signal: late.signal });
  const c = client.project.list({});
  early.abort(); // before the flush (same tick)
  await transportFailure(a, "aborted", "the call aborted before sending");
  await within(server.next(1), "the batch to be sent");
  assert.deepEqual(
    (server.requests[0]?.body as Body[]).map((x) => x.method),
    ["auth.sessions", "project.list"],
  );
  late.abort();
  await transportFailure(b, "aborted", "the call aborted in flight");
  assert.equal((server.requests[0]?.init.signal as AbortSignal).aborted, false, "the shared request goes on");
  release.resolve();
  assert.equal(await within(c, "the other call"), "project.list");
});

test("the shared request is aborted once every call in it has been", async () => {
  const server = scriptedFetch(() => never());
  const client = createClient({ baseUrl: BASE, fetch: server.fetch });
  const one = new AbortController();
  const two = new AbortController();
  const a = client.auth.me({}, { signal: one.signal });
  const b = client.auth.sessions({}, { signal: two.signal });
  await within(server.next(1), "the batch to be sent");
  const signal = server.requests[0]?.init.signal as AbortSignal;
  one.abort();
  await transportFailure(a, "aborted", "first call");
  assert.equal(signal.aborted, false);
  two.abort();
  await transportFailure(b, "aborted", "second call");
  assert.equal(signal.aborted, true);
});

test("a whole-batch error (HTTP 413) rejects every call of the batch with it", async () => {
  const server = scriptedFetch(() =>
    json(
      {
        jsonrpc: "2.0",
        id: null,
        error: { code: ErrorCodes.PAYLOAD_TOO_LARGE, message: "Payload too large", data: { kind: "payloadTooLarge", limit: 1, what: "batch" } },
      },
      413,
    ),
  );
  const client = createClient({ baseUrl: BASE, fetch: server.fetch });
  const results = await within(Promise.allSettled([client.auth.me({}), client.auth.sessions({})]), "two calls");
  for (const r of results) {
    assert.equal(r.status, "rejected");
    assert.ok((r as PromiseRejectedResult).reason instanceof RpcError);
    assert.ok(((r as PromiseRejectedResult).reason as RpcError).isPayloadTooLarge());
  }
});

test("explicit batches still resolve per call, in order", async () => {
  const server = scriptedFetch((request) =>
    json((request.body as Body[]).reverse().map((c) => ({ jsonrpc: "2.0", id: c.id, result: c.method }))),
  );
  const rpc = new RpcTransport<Procedures>({ baseUrl: BASE, fetch: server.fetch });
  const [me, sessions] = await within(rpc.batch([["auth.me", {}], ["auth.sessions", {}]] as const), "batch");
  assert.deepEqual(me, { ok: true, value: "auth.me" });
  assert.deepEqual(sessions, { ok: true, value: "auth.sessions" });
});

// ---------------------------------------------------------------------------
// Token refresh
// ---------------------------------------------------------------------------

test("concurrent refused calls share one refresh and are retried once with the new token", async () => {
  for (const batching of [true, false]) {
    const server = scriptedFetch((request) =>
      rpcAnswer(request, (call) => (request.authorization === "Bearer new" ? { result: call.method } : refused("expiredToken"))),
    );
    let refreshes = 0;
    const gate = deferred();
    const client = createClient({
      baseUrl: BASE,
      fetch: server.fetch,
      batching,
      getAccessToken: () => "old",
      refreshAccessToken: async () => {
        refreshes += 1;
        await gate.promise;
        return "new";
      },
    });
    const calls = [client.auth.me({}), client.auth.sessions({}), client.project.list({}), client.notification.list({})];
    // Let every first attempt fail before the refresh completes.
    await within(server.next(batching ? 1 : 4), "the first attempts");
    gate.resolve();
    const results = await within(Promise.all(calls), "the retried calls");
    assert.deepEqual(results, ["auth.me", "auth.sessions", "project.list", "notification.list"]);
    assert.equal(refreshes, 1, `one refresh (batching ${batching})`);
    const retried = server.requests.filter((r) => r.authorization === "Bearer new");
    assert.equal(retried.length, batching ? 1 : 4, "the retries are batched like any calls");
  }
});

test("a call refused again after the refresh is not retried twice", async () => {
  const server = scriptedFetch((request) => rpcAnswer(request, () => refused("invalidToken")));
  let refreshes = 0;
  const client = createClient({
    baseUrl: BASE,
    fetch: server.fetch,
    getAccessToken: () => "old",
    refreshAccessToken: () => {
      refreshes += 1;
      return `new-${refreshes}`;
    },
  });
  const error = await rejection(client.auth.me({}), "auth.me");
  assert.ok(isTokenRefused(error));
  assert.equal(refreshes, 1);
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[1]?.authorization, "Bearer new-1");
});

test("a failed refresh rejects the waiting calls with the server's error and calls onAuthFailure once", async () => {
  const server = scriptedFetch((request) => rpcAnswer(request, () => refused("expiredToken")));
  const failures: AuthFailure[] = [];
  const client = createClient({
    baseUrl: BASE,
    fetch: server.fetch,
    batching: false,
    getAccessToken: () => "old",
    refreshAccessToken: () => null,
    onAuthFailure: (failure) => failures.push(failure),
  });
  const errors = await within(
    Promise.all([client.auth.me({}), client.auth.sessions({})].map((p) => p.catch((e: unknown) => e))),
    "the refused calls",
  );
  for (const error of errors) {
    assert.ok(error instanceof RpcError && error.isUnauthenticated());
    assert.equal(error.dataOf("unauthenticated")?.reason, "expiredToken");
  }
  assert.equal(failures.length, 1);
  assert.equal(failures[0]?.refreshError, undefined);
  assert.equal(server.requests.length, 2, "nothing was retried");

  const thrown = new Error("refresh endpoint down");
  const failing = createClient({
    baseUrl: BASE,
    fetch: server.fetch,
    getAccessToken: () => "old",
    refreshAccessToken: () => Promise.reject(thrown),
    onAuthFailure: (failure) => failures.push(failure),
  });
  await rejection(failing.auth.me({}), "auth.me");
  assert.equal(failures.length, 2);
  assert.equal(failures[1]?.refreshError, thrown);
});

test("errors that a new token cannot fix are not refreshed", async () => {
  const server = scriptedFetch((request) => rpcAnswer(request, () => refused("invalidCredentials")));
  let refreshes = 0;
  const client = createClient({
    baseUrl: BASE,
    fetch: server.fetch,
    refreshAccessToken: () => {
      refreshes += 1;
      return "x";
    },
  });
  const error = await rejection(client.auth.login({ email: "a@b.c", password: "p" }), "login");
  assert.ok(error instanceof RpcError && error.isUnauthenticated());
  assert.equal(refreshes, 0);
});

// ---------------------------------------------------------------------------
// Event streams
// ---------------------------------------------------------------------------

test("subscribeEvents: close() while the token provider hangs ends at once and connects nowhere", async () => {
  const server = scriptedFetch(() => never());
  const tokenAsked = deferred();
  const sub = subscribeEvents({
    baseUrl: BASE,
    fetch: server.fetch,
    getAccessToken: () => {
      tokenAsked.resolve();
      return never<string>();
    },
    onEvent: () => {},
  });
  await within(tokenAsked.promise, "the token provider");
  sub.close();
  assert.deepEqual(await within(sub.done, "done"), { reason: "closed" });
  assert.equal(server.requests.length, 0);
});

test("subscribeEvents: close() during the backoff sleep ends at once", async () => {
  const server = scriptedFetch(() => Promise.reject(new TypeError("connection refused")));
  const retrying = deferred();
  const sub = subscribeEvents({
    baseUrl: BASE,
    fetch: server.fetch,
    onEvent: () => {},
    reconnect: { initialDelayMs: 60_000, jitter: 0 },
    onError: (_error, info) => {
      if (info.retryInMs !== undefined) retrying.resolve();
    },
  });
  await within(retrying.promise, "the first failure");
  sub.close();
  assert.deepEqual(await within(sub.done, "done"), { reason: "closed" });
  assert.equal(server.requests.length, 1);
});

test("subscribeEvents: HTTP 401 refreshes and reconnects with the new token and the last event id", async () => {
  const encoder = new TextEncoder();
  const server = scriptedFetch((request) => {
    const auth = request.authorization;
    if (auth !== "Bearer new" && server.requests.length > 1) {
      return json({ jsonrpc: "2.0", id: null, ...refused("expiredToken") }, 401);
    }
    const first = server.requests.length === 1;
    return new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(
            encoder.encode(first ? 'id: 7\nevent: heartbeat\ndata: {"type":"heartbeat"}\n\n' : 'event: heartbeat\ndata: {"type":"heartbeat"}\n\n'),
          );
          if (first) controller.close(); // the server drops the first connection
        },
      }),
      { status: 200, headers: { "content-type": "text/event-stream" } },
    );
  });
  let token = "old";
  let refreshes = 0;
  const opened: number[] = [];
  const reopened = deferred();
  const sub = subscribeEvents({
    baseUrl: BASE,
    fetch: server.fetch,
    getAccessToken: () => token,
    refreshAccessToken: () => {
      refreshes += 1;
      token = "new";
      return token;
    },
    reconnect: { initialDelayMs: 1, jitter: 0 },
    onEvent: () => {},
    onOpen: () => {
      opened.push(server.requests.length);
      if (opened.length === 2) reopened.resolve();
    },
  });
  await within(reopened.promise, "the stream to reopen");
  sub.close();
  assert.equal(refreshes, 1);
  assert.deepEqual(
    server.requests.map((r) => [r.authorization, new Headers(r.init.headers).get("last-event-id")]),
    [
      ["Bearer old", null],
      ["Bearer old", "7"],
      ["Bearer new", "7"],
    ],
  );
  assert.equal(new Headers(server.requests[0]?.init.headers).get("cache-control"), null, "no header outside the CORS list");
});

test("subscribeEvents: a failed refresh ends the stream as fatal and calls onAuthFailure", async () => {
  const server = scriptedFetch(() => json({ jsonrpc: "2.0", id: null, ...refused("sessionRevoked") }, 401));
  const failures: AuthFailure[] = [];
  const sub = subscribeEvents({
    baseUrl: BASE,
    fetch: server.fetch,
    getAccessToken: () => "old",
    refreshAccessToken: () => undefined,
    onAuthFailure: (failure) => failures.push(failure),
    onEvent: () => {},
  });
  const end = await within(sub.done, "done");
  assert.equal(end.reason, "fatal");
  assert.ok("error" in end && end.error instanceof RpcError && end.error.isUnauthenticated());
  assert.equal(failures.length, 1);
  assert.equal(server.requests.length, 1);
});

// ---------------------------------------------------------------------------
// Ticketed EventSource helper (with a scripted EventSource)
// ---------------------------------------------------------------------------

class FakeEventSource implements EventSourceLike {
  static instances: FakeEventSource[] = [];
  readonly listeners = new Map<string, Array<(event: EventSourceEvent) => void>>();
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, listener: (event: EventSourceEvent) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close(): void {
    this.closed = true;
  }
  emit(type: string, event: Partial<EventSourceEvent> & Record<string, unknown> = {}): void {
    for (const listener of this.listeners.get(type) ?? []) listener({ type, ...event });
  }
}

test("openTicketedEventSource: close() while the ticket is being fetched opens nothing", async () => {
  FakeEventSource.instances = [];
  const server = scriptedFetch(() => never());
  const client = createClient({ baseUrl: BASE, fetch: server.fetch });
  const sub = openTicketedEventSource(client, {
    EventSource: FakeEventSource as unknown as EventSourceConstructor,
    onEvent: () => {},
  });
  await within(server.next(1), "the ticket request");
  sub.close();
  assert.deepEqual(await within(sub.done, "done"), { reason: "closed" });
  assert.equal((server.requests[0]?.init.signal as AbortSignal).aborted, true, "the ticket request was aborted");
  assert.equal(FakeEventSource.instances.length, 0);
});

test("openTicketedEventSource: named events, a fresh ticket and lastEventId on every reconnect", async () => {
  FakeEventSource.instances = [];
  let tickets = 0;
  const server = scriptedFetch((request) =>
    rpcAnswer(request, () => ({ result: { ticket: `t${++tickets}`, expiresAt: "2100-01-01T00:00:00Z" } })),
  );
  const client = createClient({ baseUrl: BASE, fetch: server.fetch });
  const received: Array<[string, string | undefined]> = [];
  const second = deferred();
  const sub = openTicketedEventSource(client, {
    EventSource: FakeEventSource as unknown as EventSourceConstructor,
    topics: ["workflow:w1"],
    reconnect: { initialDelayMs: 1, jitter: 0 },
    onEvent: (event, meta) => received.push([event.type, meta.id]),
    onOpen: () => {
      if (FakeEventSource.instances.length === 2) second.resolve();
    },
  });
  await within(server.next(1), "the first ticket");
  await within(
    (async () => {
      while (FakeEventSource.instances.length < 1) await new Promise((r) => setImmediate(r));
    })(),
    "the first EventSource",
  );
  const first = FakeEventSource.instances[0]!;
  assert.equal(first.url, `${BASE}/events?ticket=t1&topics=workflow%3Aw1`);
  assert.ok(first.listeners.has("workflow.patched") && first.listeners.has("heartbeat"), "named listeners");
  first.emit("open");
  first.emit("workflow.patched", { data: JSON.stringify({ type: "workflow.patched" }), lastEventId: "41" });
  first.emit("heartbeat", { data: JSON.stringify({ type: "heartbeat" }), lastEventId: "41" });
  first.emit("error"); // the connection dropped: the helper must not let it reconnect by itself
  assert.equal(first.closed, true);
  await within(
    (async () => {
      while (FakeEventSource.instances.length < 2) await new Promise((r) => setImmediate(r));
    })(),
    "the second EventSource",
  );
  const next = FakeEventSource.instances[1]!;
  assert.equal(next.url, `${BASE}/events?ticket=t2&topics=workflow%3Aw1&lastEventId=41`);
  next.emit("open");
  await within(second.promise, "the reconnection");
  // A new EventSource knows no id until the next durable event: the position is kept.
  next.emit("heartbeat", { data: JSON.stringify({ type: "heartbeat" }), lastEventId: "" });
  assert.equal(sub.lastEventId, "41");
  next.emit("error", { code: 404 });
  const end = await within(sub.done, "done");
  assert.equal(end.reason, "fatal");
  assert.deepEqual(received, [
    ["workflow.patched", "41"],
    ["heartbeat", "41"],
    ["heartbeat", "41"],
  ]);
});

test("the browser's EventSource type fits the helper's constructor option", () => {
  // Compile-time: `globalThis.EventSource` (lib.dom) is an EventSourceConstructor.
  const fits: typeof globalThis.EventSource extends EventSourceConstructor ? true : false = true;
  assert.equal(fits, true);
});

test("closing a fetch-based subscription from onEvent leaves no unhandled rejection", async () => {
  const { createServer } = await import("node:http");
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on("unhandledRejection", onUnhandled);
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    for (let id = 1; id <= 5; id++) response.write(`id: ${id}\nevent: heartbeat\ndata: {"type":"heartbeat","at":"now"}\n\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    const subscription = subscribeEvents({
      baseUrl: `http://127.0.0.1:${address.port}`,
      onEvent: (_event, meta) => {
        if (meta.id === "3") subscription.close();
      },
    });
    assert.deepEqual(await subscription.done, { reason: "closed" });
    // Rejections are reported after the microtask queue drains: give them a macrotask turn.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
    server.closeAllConnections();
    server.close();
  }
});
