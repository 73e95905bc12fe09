/**
 * End-to-end test of the generated client against a running Weft server.
 *
 * The server's base URL comes from the `WEFT_URL` environment variable (e.g.
 * `http://127.0.0.1:41234`); the test fails when it is not set. Everything
 * goes through `createClient` and the runtime's `subscribeEvents`; every wait
 * is bounded so the test cannot hang.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import {
  createClient,
  ErrorCodes,
  RpcError,
  subscribeEvents,
  type AuthSession,
  type Graph,
  type EventMeta,
  type EventSubscription,
  type SubscriptionEnd,
  type Topic,
  type WeftEvent,
  type WorkflowId,
} from "../src/index.js";

const WAIT_MS = 10_000;
const PASSWORD = "violet-Tangerine-88-harbour";

/** Rejects with a descriptive error if `promise` does not settle within `ms`. */
async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that `promise` rejects with an RpcError of the given code, and returns it. */
async function rejectsWithCode(promise: Promise<unknown>, code: number, what: string): Promise<RpcError> {
  let caught: unknown;
  try {
    await within(promise, what);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `${what}: expected an RpcError ${code}, but the call succeeded`);
  assert.ok(caught instanceof RpcError, `${what}: expected an RpcError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `${what}: expected code ${code}, got ${caught.code} (${caught.message})`);
  return caught;
}

interface Received {
  event: WeftEvent;
  meta: EventMeta;
}

/** Records the events of a subscription and lets the test wait for one. */
class EventLog {
  readonly events: Received[] = [];
  readonly errors: Error[] = [];
  #waiters: Array<{ predicate: (r: Received) => boolean; resolve: (r: Received) => void }> = [];

  push(received: Received): void {
    this.events.push(received);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.predicate(received)) return true;
      w.resolve(received);
      return false;
    });
  }

  /** Resolves with the first event (already received or future) matching `predicate`. */
  next(predicate: (r: Received) => boolean): Promise<Received> {
    const seen = this.events.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ predicate, resolve }));
  }
}

const baseUrl = process.env["WEFT_URL"];

test("Weft client end-to-end", { timeout: 120_000 }, async (t: TestContext) => {
  assert.ok(
    baseUrl !== undefined && baseUrl.trim() !== "",
    "WEFT_URL is not set: start the Weft server and set WEFT_URL to its base URL (e.g. http://127.0.0.1:41234)",
  );

  const email = `e2e-${randomUUID()}@example.com`;
  const displayName = "E2E Tester";

  /** Clients that authenticate with a token the test controls. */
  let accessToken: string | undefined;
  const client = createClient({ baseUrl, getAccessToken: () => accessToken, timeoutMs: WAIT_MS });
  const anonymous = createClient({ baseUrl, timeoutMs: WAIT_MS });

  let registered: AuthSession | undefined;
  let loggedIn: AuthSession | undefined;
  let subscription: EventSubscription | undefined;
  const log = new EventLog();
  let failed = false;

  /** Runs a subtest, skipping it once an earlier one failed (later steps depend on earlier ones). */
  const step = async (name: string, fn: () => Promise<void>): Promise<void> => {
    await t.test(name, { skip: failed ? "an earlier step failed" : false, timeout: 30_000 }, async () => {
      try {
        await fn();
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  };

  try {
    await step("register rejects a too-short password with a validation error on `password`", async () => {
      const error = await rejectsWithCode(
        anonymous.auth.register({ email, password: "short", displayName }),
        ErrorCodes.VALIDATION,
        "auth.register with a short password",
      );
      assert.ok(error.isValidation());
      assert.equal(error.data?.kind, "validation");
      const paths = error.fieldErrors.map((f) => f.path);
      assert.ok(paths.includes("password"), `expected a field error on "password", got ${JSON.stringify(paths)}`);
    });

    await step("register a fresh user", async () => {
      registered = await within(anonymous.auth.register({ email, password: PASSWORD, displayName }), "auth.register");
      assert.equal(registered.user.email.toLowerCase(), email.toLowerCase());
      assert.equal(registered.user.displayName, displayName);
      assert.ok(["ADMIN", "USER", "GUEST"].includes(registered.user.role));
      assert.ok(registered.accessToken.length > 0);
      assert.ok(registered.refreshToken.length > 0);
      assert.ok(registered.sessionId.length > 0);
    });

    await step("login opens a second session", async () => {
      assert.ok(registered);
      loggedIn = await within(anonymous.auth.login({ email, password: PASSWORD }), "auth.login");
      assert.equal(loggedIn.user.id, registered.user.id);
      assert.notEqual(loggedIn.sessionId, registered.sessionId);
      assert.notEqual(loggedIn.accessToken, registered.accessToken);
      accessToken = loggedIn.accessToken;
    });

    await step("auth.me returns the logged-in user", async () => {
      assert.ok(loggedIn);
      const me = await within(client.auth.me({}), "auth.me");
      assert.equal(me.id, loggedIn.user.id);
      assert.equal(me.email, loggedIn.user.email);
    });

    await step("a typed batch resolves per call, in request order", async () => {
      assert.ok(loggedIn);
      const [me, sessions] = await within(
        client.rpc.batch([["auth.me", {}], ["auth.sessions", {}]] as const),
        "batch [auth.me, auth.sessions]",
      );
      assert.ok(me.ok, `auth.me in batch failed: ${me.ok ? "" : me.error.message}`);
      assert.equal(me.value.id, loggedIn.user.id);
      assert.ok(sessions.ok, `auth.sessions in batch failed: ${sessions.ok ? "" : sessions.error.message}`);
      const current = sessions.value.items.find((s) => s.id === loggedIn?.sessionId);
      assert.ok(current, "the login session is listed by auth.sessions");
      assert.equal(current.current, true);
      assert.ok(sessions.value.items.some((s) => s.id === registered?.sessionId), "the register session is listed");
    });

    await step("the event stream delivers an event right after connecting", async () => {
      const end = new Promise<SubscriptionEnd>((resolve) => {
        subscription = subscribeEvents({
          baseUrl,
          getAccessToken: () => accessToken,
          onEvent: (event, meta) => log.push({ event, meta }),
          onError: (error) => log.errors.push(error),
          reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
        });
        void subscription.done.then(resolve);
      });
      const first = await within(
        Promise.race([
          log.next(() => true),
          end.then((e) => {
            throw new Error(`event stream stopped before any event: ${JSON.stringify(e)}; errors: ${log.errors.join("; ")}`);
          }),
        ]),
        "the first event on the stream",
      );
      assert.equal(typeof first.event.type, "string");
      assert.equal(first.meta.type.length > 0, true);
      assert.ok(subscription);
      assert.equal(subscription.state, "open");
    });

    await step("a project and a workflow: create, patch with expectedVersion, stale patch conflicts", async () => {
      const project = await within(client.project.create({ name: "E2E project" }), "project.create");
      assert.equal(project.myRole, "OWNER");
      const graph: Graph = {
        nodes: [
          { id: "start", name: "Start", type: "start", position: { x: 0, y: 0 }, config: {} },
          { id: "done", name: "Done", type: "end", position: { x: 200, y: 0 }, config: { output: "{{ input }}" } },
        ],
        edges: [{ source: "start", sourcePort: "out", target: "done", targetPort: "in" }],
      };
      const created = await within(
        client.workflow.create({ projectId: project.id, name: "E2E workflow", graph }),
        "workflow.create",
      );
      assert.equal(created.validation.valid, true);
      const saved = await within(
        client.workflow.patchGraph({
          workflowId: created.workflow.id,
          expectedVersion: created.workflow.currentVersion,
          patch: [{ op: "replace", path: "/nodes/1/name", value: "Finish" }],
        }),
        "workflow.patchGraph",
      );
      assert.equal(saved.workflow.currentVersion, created.workflow.currentVersion + 1);
      const stale = await rejectsWithCode(
        client.workflow.patchGraph({ workflowId: created.workflow.id, expectedVersion: 1, patch: [] }),
        ErrorCodes.CONFLICT,
        "a stale workflow.patchGraph",
      );
      const conflict = stale.dataOf("conflict");
      assert.equal(conflict?.currentVersion, saved.workflow.currentVersion);
    });

    await step("a topic subscription sees live edits, and a new one resumes after the last event id", async () => {
      const project = await within(client.project.create({ name: "E2E live" }), "project.create");
      const graph: Graph = {
        nodes: [
          { id: "start", name: "Start", type: "start", position: { x: 0, y: 0 }, config: {} },
          { id: "done", name: "Done", type: "end", position: { x: 200, y: 0 }, config: { output: "{{ input }}" } },
        ],
        edges: [{ source: "start", sourcePort: "out", target: "done", targetPort: "in" }],
      };
      const created = await within(
        client.workflow.create({ projectId: project.id, name: "Live", graph }),
        "workflow.create",
      );
      const topics: Topic[] = [`workflow:${created.workflow.id}`];
      const live = new EventLog();
      const first = subscribeEvents({
        baseUrl,
        topics,
        getAccessToken: () => accessToken,
        onEvent: (event, meta) => live.push({ event, meta }),
        reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
      });
      await within(live.next((r) => r.event.type === "heartbeat"), "the first heartbeat");
      await within(
        client.workflow.patchGraph({
          workflowId: created.workflow.id,
          expectedVersion: 1,
          patch: [{ op: "replace", path: "/nodes/1/name", value: "Finish" }],
        }),
        "workflow.patchGraph",
      );
      const patched = await within(live.next((r) => r.event.type === "workflow.patched"), "workflow.patched");
      assert.ok(patched.event.type === "workflow.patched" && patched.event.version === 2);
      assert.ok(patched.meta.id !== undefined, "durable events carry ids");
      first.close();
      assert.equal(first.lastEventId, patched.meta.id);

      // While nobody listens, a run happens; a subscription resuming from the last id gets it.
      const executed = await within(
        client.workflow.execute({ workflowId: created.workflow.id, version: 2, input: { hi: 1 }, wait: true }),
        "workflow.execute",
      );
      const resumed = new EventLog();
      const second = subscribeEvents({
        baseUrl,
        topics,
        lastEventId: first.lastEventId,
        getAccessToken: () => accessToken,
        onEvent: (event, meta) => resumed.push({ event, meta }),
        reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
      });
      const started = await within(resumed.next((r) => r.event.type === "run.started"), "replayed run.started");
      assert.ok(started.event.type === "run.started" && started.event.runId === executed.run.id);
      await within(resumed.next((r) => r.event.type === "run.succeeded"), "replayed run.succeeded");
      assert.ok(!resumed.events.some((r) => r.event.type === "workflow.patched"), "nothing before the id");
      second.close();

      await rejectsWithCode(
        client.collab.join({ workflowId: "00000000-0000-7000-8000-000000000000" as WorkflowId }),
        ErrorCodes.NOT_FOUND,
        "collab.join on an unknown workflow",
      );
      const joined = await within(client.collab.join({ workflowId: created.workflow.id }), "collab.join");
      assert.equal(joined.presence.length, 1);
      await within(client.collab.leave({ workflowId: created.workflow.id, clientId: joined.clientId }), "collab.leave");
    });

    await step("AI: catalogue, a sealed credential, budgets and usage; no provider answers UPSTREAM", async () => {
      const project = await within(client.project.create({ name: "E2E AI" }), "project.create");
      const models = await within(client.ai.models({}), "ai.models");
      assert.ok(Array.isArray(models.models));
      const secret = "e2e-bearer-secret-000042";
      const credential = await within(
        client.ai.credentials.create({ projectId: project.id, name: "hook", kind: "bearer", secret }),
        "ai.credentials.create",
      );
      assert.equal(credential.hint, "…0042");
      const listed = await within(client.ai.credentials.list({ projectId: project.id }), "ai.credentials.list");
      assert.equal(listed.items.length, 1);
      assert.ok(!JSON.stringify(listed).includes(secret), "the secret is never returned");
      const budget = await within(
        client.ai.budgets.set({ scope: "project", projectId: project.id, period: "month", limitUsd: 5 }),
        "ai.budgets.set",
      );
      assert.equal(budget.limitUsd, 5);
      const usage = await within(client.ai.usage({ projectId: project.id, groupBy: "day" }), "ai.usage");
      assert.equal(usage.totalCostUsd, 0);
      const failed = await rejectsWithCode(
        client.ai.generateWorkflow({ projectId: project.id, description: "Greet people" }),
        ErrorCodes.UPSTREAM,
        "ai.generateWorkflow on a server without providers",
      );
      assert.equal(failed.data?.kind, "upstream");
    });

    await step("refresh rotates tokens; reusing the old refresh token fails", async () => {
      assert.ok(registered);
      const old = registered;
      const refreshed = await within(anonymous.auth.refresh({ refreshToken: old.refreshToken }), "auth.refresh");
      assert.equal(refreshed.sessionId, old.sessionId);
      assert.equal(refreshed.user.id, old.user.id);
      assert.notEqual(refreshed.refreshToken, old.refreshToken);
      assert.notEqual(refreshed.accessToken, old.accessToken);

      const asRefreshed = createClient({ baseUrl, getAccessToken: () => refreshed.accessToken, timeoutMs: WAIT_MS });
      const me = await within(asRefreshed.auth.me({}), "auth.me with the refreshed access token");
      assert.equal(me.id, old.user.id);

      const reuse = await rejectsWithCode(
        anonymous.auth.refresh({ refreshToken: old.refreshToken }),
        ErrorCodes.UNAUTHENTICATED,
        "auth.refresh with a rotated-out refresh token",
      );
      assert.ok(reuse.isUnauthenticated());
      assert.equal(reuse.data?.kind, "unauthenticated");

      // Reuse revokes the whole session, so its newest refresh token is dead too.
      await rejectsWithCode(
        anonymous.auth.refresh({ refreshToken: refreshed.refreshToken }),
        ErrorCodes.UNAUTHENTICATED,
        "auth.refresh of a session revoked by refresh-token reuse",
      );
    });

    await step("logout ends the session: the stream is told or closed, auth.me fails", async () => {
      assert.ok(loggedIn && subscription);
      const session = loggedIn;
      const sub = subscription;
      const result = await within(client.auth.logout({}), "auth.logout");
      assert.equal(result.sessionId, session.sessionId);

      const outcome = await within(
        Promise.race([
          log
            .next((r) => r.event.type === "session.revoked" && r.event.sessionId === session.sessionId)
            .then(() => "session.revoked event"),
          sub.done.then((end) => `stream stopped (${end.reason})`),
        ]),
        "session.revoked on the event stream (or the stream closing)",
      );
      t.diagnostic(`after logout: ${outcome}`);

      await rejectsWithCode(client.auth.me({}), ErrorCodes.UNAUTHENTICATED, "auth.me after logout");
    });
  } finally {
    subscription?.close();
    if (subscription !== undefined) await within(subscription.done, "the event stream to close", 2_000).catch(() => {});
  }
});
