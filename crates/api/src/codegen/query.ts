/**
 * TanStack Query helpers for the Weft client (`@weft/client/query`).
 *
 * The first part of this file is hand-written (`crates/api/src/codegen/query.ts`); the
 * code generator appends {@link createQueryHelpers}, one entry per procedure. Nothing here
 * imports TanStack: the factories return plain objects of the shapes `queryOptions`,
 * `infiniteQueryOptions` and `mutationOptions` take, so this works with React, Vue, Solid,
 * Svelte or `@tanstack/query-core` alike, and costs nothing to clients that do not use it.
 *
 * **Key convention**: every key starts with `"weft"`, then the procedure name split at its
 * dots, then the params when there are any: `["weft", "project", "list", { search: "a" }]`,
 * `["weft", "ai", "credentials", "list", { projectId }]`. A prefix addresses a group:
 * `["weft"]` everything, `["weft", "run"]` every run query, `["weft", "run", "get"]` every
 * run read. TanStack matches the params object partially, so
 * `["weft", "run", "get", { runId }]` invalidates that run's reads whatever other params
 * they had.
 *
 * @packageDocumentation
 */

import type { Procedures } from "./procedures.js";
import type { CallOptions, RpcTransport } from "./runtime.js";
import type { WeftEvent } from "./types.js";

/** A Weft query key (see the key convention above). */
export type WeftQueryKey = readonly ["weft", ...unknown[]];

/** The part of the client the helpers need: `client.rpc`. */
export interface QueryHelpersClient {
  readonly rpc: Pick<RpcTransport<Procedures>, "call">;
}

/** Procedures whose result is a page (`items` + `nextCursor`) and whose params take `cursor`. */
type Paged = {
  [K in keyof Procedures]: Procedures[K]["result"] extends { nextCursor: string | null }
    ? Procedures[K]["params"] extends { cursor?: string | null }
      ? K
      : never
    : never;
}[keyof Procedures];

/** The context TanStack passes to a `queryFn`. */
interface QueryFnContext {
  signal?: AbortSignal;
}

/** The context TanStack passes to an infinite query's `queryFn`. */
interface InfiniteQueryFnContext extends QueryFnContext {
  pageParam: string | null;
}

/** The key of a procedure with these params (no params: the procedure's prefix). */
export function weftKey(method: keyof Procedures & string, params?: unknown): WeftQueryKey {
  const path = method.split(".");
  return params === undefined ? ["weft", ...path] : ["weft", ...path, params];
}

/** The key prefix of a router (`"run"`, `"ai.credentials"`) or of everything (no argument). */
export function weftPrefix(router?: string): WeftQueryKey {
  return router === undefined ? ["weft"] : ["weft", ...router.split(".")];
}

/** Options of a query: what `useQuery`/`queryOptions` take. */
export interface WeftQueryOptions<M extends keyof Procedures> {
  queryKey: WeftQueryKey;
  queryFn: (context: QueryFnContext) => Promise<Procedures[M]["result"]>;
}

/** Options of an infinite query over a paged procedure: what `useInfiniteQuery` takes. */
export interface WeftInfiniteQueryOptions<M extends Paged> {
  queryKey: WeftQueryKey;
  queryFn: (context: InfiniteQueryFnContext) => Promise<Procedures[M]["result"]>;
  initialPageParam: null;
  getNextPageParam: (lastPage: Procedures[M]["result"]) => string | null;
}

/** Options of a mutation: what `useMutation`/`mutationOptions` take. */
export interface WeftMutationOptions<M extends keyof Procedures> {
  mutationKey: WeftQueryKey;
  mutationFn: (params: Procedures[M]["params"]) => Promise<Procedures[M]["result"]>;
}

/** Query options of `method` with `params`; TanStack's abort signal cancels the call. */
export function weftQueryOptions<M extends keyof Procedures & string>(
  client: QueryHelpersClient,
  method: M,
  params: Procedures[M]["params"],
  options?: CallOptions,
): WeftQueryOptions<M> {
  return {
    queryKey: weftKey(method, params),
    queryFn: ({ signal }) => client.rpc.call(method, params, { ...options, signal: anySignal(signal, options?.signal) }),
  };
}

/**
 * Infinite-query options of a paged `method`: pages are fetched with `cursor` set to the
 * previous page's `nextCursor` (the first with none); the last page's `null` ends the list.
 * The key leaves `cursor` out, so every page of one listing shares it.
 */
export function weftInfiniteQueryOptions<M extends Paged>(
  client: QueryHelpersClient,
  method: M,
  params: Omit<Procedures[M]["params"], "cursor">,
  options?: CallOptions,
): WeftInfiniteQueryOptions<M> {
  return {
    queryKey: weftKey(method, params),
    queryFn: ({ pageParam, signal }) =>
      client.rpc.call(method, { ...params, cursor: pageParam } as Procedures[M]["params"], {
        ...options,
        signal: anySignal(signal, options?.signal),
      }),
    initialPageParam: null,
    getNextPageParam: (lastPage) => (lastPage as { nextCursor: string | null }).nextCursor,
  };
}

/** Mutation options of `method`. */
export function weftMutationOptions<M extends keyof Procedures & string>(
  client: QueryHelpersClient,
  method: M,
  options?: CallOptions,
): WeftMutationOptions<M> {
  return {
    mutationKey: weftKey(method),
    mutationFn: (params) => client.rpc.call(method, params, options),
  };
}

/** The first of two signals to abort (either may be absent). */
function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (typeof AbortSignal.any === "function") return AbortSignal.any([a, b]);
  const controller = new AbortController();
  const abort = (signal: AbortSignal) => controller.abort(signal.reason);
  for (const signal of [a, b]) {
    if (signal.aborted) abort(signal);
    else signal.addEventListener("abort", () => abort(signal), { once: true });
  }
  return controller.signal;
}

/**
 * The query keys an event makes stale: pass each to `queryClient.invalidateQueries({ queryKey })`.
 * Run and node events refresh that run's reads and the run lists; a run's end and approval
 * requests refresh the task list; workflow edits refresh the workflow, its versions and
 * validation; comments, presence, notifications and sessions refresh their lists; `resync`
 * (the stream could not replay what was missed) refreshes everything.
 *
 * ```ts
 * subscribeEvents({ ..., onEvent: (event) => {
 *   for (const queryKey of invalidationsFor(event)) void queryClient.invalidateQueries({ queryKey });
 * } });
 * ```
 */
export function invalidationsFor(event: WeftEvent): WeftQueryKey[] {
  switch (event.type) {
    case "run.started":
    case "run.succeeded":
    case "run.failed":
    case "run.cancelled":
    case "run.waiting":
      return [weftKey("run.get", { runId: event.runId }), weftKey("run.list"), weftKey("run.tasks")];
    case "node.started":
    case "node.succeeded":
    case "node.failed":
    case "node.retrying":
      return [weftKey("run.get", { runId: event.runId })];
    case "approval.requested":
      return [weftKey("run.get", { runId: event.runId }), weftKey("run.tasks")];
    case "workflow.patched":
    case "workflow.saved":
      return [
        weftKey("workflow.get", { workflowId: event.workflowId }),
        weftKey("workflow.versions", { workflowId: event.workflowId }),
        weftKey("workflow.validate", { workflowId: event.workflowId }),
        weftKey("workflow.list"),
      ];
    case "comment.created":
    case "comment.resolved":
      return [weftKey("collab.listComments", { workflowId: event.comment.workflowId })];
    case "collab.joined":
    case "collab.left":
      return [weftKey("collab.presence", { workflowId: event.workflowId })];
    case "notification.created":
      return [weftPrefix("notification")];
    case "session.created":
    case "session.revoked":
      return [weftKey("auth.sessions")];
    case "user.roleChanged":
      return [weftKey("auth.me")];
    case "resync":
      return [weftPrefix()];
    case "heartbeat":
    case "node.token":
    case "collab.cursor":
      return [];
  }
}
