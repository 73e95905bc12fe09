/**
 * The TanStack Query helpers (`@weft/client/query`) with `@tanstack/query-core`'s own
 * `QueryClient`, against a running Weft server (`WEFT_URL`): queries, infinite queries over
 * cursor pages, mutations, cancellation through TanStack's signal, key prefixes and the
 * invalidations events name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { QueryClient } from "@tanstack/query-core";

import { createClient, type ProjectId, type WeftEvent } from "../src/index.js";
import { createQueryHelpers, invalidationsFor, weftKey, weftPrefix } from "../src/query.js";

const PASSWORD = "violet-Tangerine-88-harbour";

function baseUrl(): string {
  const url = process.env["WEFT_URL"];
  assert.ok(url, "WEFT_URL must name a running server");
  return url;
}

async function signedIn() {
  const anonymous = createClient({ baseUrl: baseUrl() });
  const session = await anonymous.auth.register({
    email: `query-${randomUUID()}@example.com`,
    password: PASSWORD,
    displayName: "Query",
  });
  const client = createClient({ baseUrl: baseUrl(), getAccessToken: () => session.accessToken });
  return { client, session };
}

test("queries, infinite queries and mutations run through QueryClient", async () => {
  const { client } = await signedIn();
  const q = createQueryHelpers(client);
  const queryClient = new QueryClient();

  // A mutation's options: key without params, the call as mutationFn.
  const create = q.project.create.mutationOptions();
  assert.deepEqual(create.mutationKey, ["weft", "project", "create"]);
  const names = ["one", "two", "three", "four", "five"];
  for (const name of names) await create.mutationFn({ name });

  // A query: the key carries the params; the result is the procedure's.
  const me = await queryClient.fetchQuery(q.auth.me.queryOptions());
  assert.equal(me.displayName, "Query");
  assert.deepEqual(q.auth.me.queryOptions().queryKey, ["weft", "auth", "me", {}]);
  const listed = await queryClient.fetchQuery(q.project.list.queryOptions({ limit: 2 }));
  assert.equal(listed.items.length, 2);
  assert.equal(typeof listed.nextCursor, "string");
  assert.ok(queryClient.getQueryData(["weft", "project", "list", { limit: 2 }]), "cached under its key");

  // An infinite query walks the cursor pages to the end; the key has no cursor.
  const infinite = q.project.list.infiniteQueryOptions({ limit: 2 });
  assert.deepEqual(infinite.queryKey, ["weft", "project", "list", { limit: 2 }]);
  let data = await queryClient.fetchInfiniteQuery(infinite);
  const observerPages = () => data.pages.flatMap((page) => page.items.map((p) => p.name));
  while (data.pages[data.pages.length - 1]!.nextCursor !== null) {
    data = await queryClient.fetchInfiniteQuery({ ...infinite, pages: data.pages.length + 1 });
  }
  assert.deepEqual(observerPages().sort(), [...names].sort());
  assert.equal(data.pages.length, 3);
  assert.deepEqual(data.pageParams, [null, data.pages[0]!.nextCursor, data.pages[1]!.nextCursor]);

  // Nested routers split into key parts.
  const project = listed.items[0]!;
  const credentials = q.ai.credentials.list.queryOptions({ projectId: project.id });
  assert.deepEqual(credentials.queryKey, ["weft", "ai", "credentials", "list", { projectId: project.id }]);
  assert.deepEqual((await queryClient.fetchQuery(credentials)).items, []);

  // Prefix invalidation reaches every query of a router and nothing else.
  await queryClient.invalidateQueries({ queryKey: weftPrefix("project") });
  assert.equal(queryClient.getQueryState(["weft", "project", "list", { limit: 2 }])?.isInvalidated, true);
  assert.equal(queryClient.getQueryState(["weft", "auth", "me", {}])?.isInvalidated, false);
  queryClient.clear();
});

test("TanStack's abort signal cancels the call", async () => {
  const { client } = await signedIn();
  const q = createQueryHelpers(client);
  const controller = new AbortController();
  controller.abort();
  const options = q.project.list.queryOptions({});
  await assert.rejects(options.queryFn({ signal: controller.signal }), (error: Error) => {
    assert.match(error.name + error.message, /abort/i);
    return true;
  });
});

test("events name the keys they make stale, matched partially by TanStack", async () => {
  const queryClient = new QueryClient();
  const runId = randomUUID();
  const other = randomUUID();
  queryClient.setQueryData(weftKey("run.get", { runId }), { id: runId });
  queryClient.setQueryData(weftKey("run.get", { runId: other }), { id: other });
  queryClient.setQueryData(weftKey("run.list", { workflowId: randomUUID(), limit: 10 }), { items: [] });
  queryClient.setQueryData(weftKey("project.list", {}), { items: [] });
  const event = { type: "run.succeeded", runId, output: 1 } as unknown as WeftEvent;
  for (const queryKey of invalidationsFor(event)) await queryClient.invalidateQueries({ queryKey });
  const invalidated = (key: readonly unknown[]) => queryClient.getQueryState(key)?.isInvalidated;
  assert.equal(invalidated(weftKey("run.get", { runId })), true);
  assert.equal(invalidated(weftKey("run.get", { runId: other })), false);
  assert.equal(invalidated(queryClient.getQueryCache().findAll({ queryKey: ["weft", "run", "list"] })[0]!.queryKey), true);
  assert.equal(invalidated(weftKey("project.list", {})), false);
  // A resync makes everything stale.
  for (const queryKey of invalidationsFor({ type: "resync", reason: "tooOld" } as unknown as WeftEvent)) {
    await queryClient.invalidateQueries({ queryKey });
  }
  assert.equal(invalidated(weftKey("project.list", {})), true);
  // Heartbeats name nothing.
  assert.deepEqual(invalidationsFor({ type: "heartbeat" } as unknown as WeftEvent), []);
  queryClient.clear();
});

test("ids are branded: a project id is not a workflow id", () => {
  const projectId = randomUUID() as ProjectId;
  // @ts-expect-error a ProjectId is not accepted where a WorkflowId is expected
  const wrong: Parameters<ReturnType<typeof createQueryHelpers>["workflow"]["get"]["queryOptions"]>[0] = { workflowId: projectId };
  assert.ok(wrong);
});
