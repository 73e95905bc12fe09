/**
 * Weft client runtime.
 *
 * This file is hand-written and copied verbatim into the generated TypeScript
 * bindings (`bindings/src/runtime.ts`) by the Rust code generator. It has no
 * dependencies and runs unchanged in browsers and in Node.js 20+ (it needs
 * only `fetch`, `Headers`, `AbortController`, `ReadableStream` and
 * `TextDecoder`).
 *
 * It provides:
 * - {@link RpcTransport}: a typed JSON-RPC 2.0 client over HTTP POST
 *   (single calls, notifications and batches; calls made in the same tick
 *   are batched automatically), with per-call cancellation and timeouts and
 *   single-flight access-token refresh;
 * - {@link RpcError} / {@link TransportError}: the two failure types every
 *   call can reject with;
 * - {@link subscribeEvents} / {@link streamEvents}: a fetch-based Server-Sent
 *   Events client for `GET /events` that can send an `Authorization` header
 *   (which the browser's native `EventSource` cannot) and reconnects with
 *   capped exponential backoff, resuming after the last event id;
 * - {@link openTicketedEventSource}: the same over the browser's
 *   `EventSource`, authenticated by single-use stream tickets;
 * - {@link SseParser}: the spec-compliant SSE wire-format parser underneath.
 *
 * @packageDocumentation
 */

import { ErrorCodes } from "./errors.js";
import type { EmptyParams, ErrorData, StreamTicket, UnauthenticatedReason, WeftEvent } from "./types.js";

// ---------------------------------------------------------------------------
// Error codes and errors
// ---------------------------------------------------------------------------

// The codes come from the server's table (generated into errors.ts).
export { ErrorCodes, type RpcErrorCode } from "./errors.js";

/** The member of the {@link ErrorData} union whose `kind` is `K`. */
export type ErrorDataOf<K extends ErrorData["kind"]> = Extract<ErrorData, { kind: K }>;

/** One failed field of a validation error (`data.kind === "validation"`). */
export interface ValidationIssue {
  /** Path of the offending field in the params object, e.g. `"password"`. */
  readonly path: string;
  /** Machine-readable reason, e.g. `"tooShort"`. */
  readonly code: string;
  /** Human-readable message. */
  readonly message: string;
}

/** A JSON-RPC id as it appears on the wire. */
export type JsonRpcId = number | string | null;

/** The `error` member of a JSON-RPC error response. */
export interface JsonRpcErrorObject {
  /** Numeric error code, usually one of {@link ErrorCodes}. */
  code: number;
  /** Short human-readable description. */
  message: string;
  /** Structured details, tagged by `kind`. */
  data?: ErrorData;
}

/**
 * The server answered with a JSON-RPC error object.
 *
 * Use the `is*()` helpers or compare {@link RpcError.code} with
 * {@link ErrorCodes}; {@link RpcError.dataOf} narrows the structured
 * {@link RpcError.data}.
 *
 * @example
 * ```ts
 * try {
 *   await client.auth.register({ email, password, displayName });
 * } catch (e) {
 *   if (e instanceof RpcError && e.isValidation()) {
 *     for (const f of e.fieldErrors) console.log(f.path, f.message);
 *   }
 * }
 * ```
 */
export class RpcError extends Error {
  /** Numeric JSON-RPC error code (see {@link ErrorCodes}). */
  readonly code: number;
  /** Structured error details, when the server sent any. */
  readonly data?: ErrorData;
  /** The method that failed, when known (not set for whole-batch failures). */
  readonly method?: string;
  /** The JSON-RPC id of the failed request, when known. */
  readonly requestId?: JsonRpcId;

  /**
   * @param error - the JSON-RPC error object received from the server
   * @param context - the method and request id, for diagnostics
   */
  constructor(error: JsonRpcErrorObject, context: { method?: string; requestId?: JsonRpcId } = {}) {
    super(error.message);
    this.name = "RpcError";
    this.code = error.code;
    if (error.data !== undefined) this.data = error.data;
    if (context.method !== undefined) this.method = context.method;
    if (context.requestId !== undefined) this.requestId = context.requestId;
  }

  /** True when {@link RpcError.code} equals `code`. */
  is(code: number): boolean {
    return this.code === code;
  }

  /** `-32001`: missing/invalid/expired token, bad credentials or revoked session. */
  isUnauthenticated(): boolean {
    return this.code === ErrorCodes.UNAUTHENTICATED;
  }

  /** `-32003`: the caller lacks the required role. */
  isForbidden(): boolean {
    return this.code === ErrorCodes.FORBIDDEN;
  }

  /** `-32004`: the addressed resource does not exist. */
  isNotFound(): boolean {
    return this.code === ErrorCodes.NOT_FOUND;
  }

  /** `-32009`: the request conflicts with the current state (e.g. e-mail taken). */
  isConflict(): boolean {
    return this.code === ErrorCodes.CONFLICT;
  }

  /** `-32013`: the body or batch exceeded the server's limit. */
  isPayloadTooLarge(): boolean {
    return this.code === ErrorCodes.PAYLOAD_TOO_LARGE;
  }

  /** `-32022`: field validation failed; see {@link RpcError.fieldErrors}. */
  isValidation(): boolean {
    return this.code === ErrorCodes.VALIDATION;
  }

  /** `-32029`: rate limited; see {@link RpcError.retryAfterSeconds}. */
  isRateLimited(): boolean {
    return this.code === ErrorCodes.RATE_LIMITED;
  }

  /** `-32603`: internal server error. */
  isInternal(): boolean {
    return this.code === ErrorCodes.INTERNAL;
  }

  /** `-32601`: the method does not exist on the server. */
  isMethodNotFound(): boolean {
    return this.code === ErrorCodes.METHOD_NOT_FOUND;
  }

  /** `-32602`: the params did not match the method's expected shape. */
  isInvalidParams(): boolean {
    return this.code === ErrorCodes.INVALID_PARAMS;
  }

  /**
   * Returns {@link RpcError.data} if its `kind` is `kind`, else `undefined`.
   *
   * @example `err.dataOf("unauthenticated")?.reason`
   */
  dataOf<K extends ErrorData["kind"]>(kind: K): ErrorDataOf<K> | undefined {
    const data = this.data;
    return data !== undefined && data.kind === kind ? (data as ErrorDataOf<K>) : undefined;
  }

  /** The per-field failures of a validation error; empty for any other error. */
  get fieldErrors(): readonly ValidationIssue[] {
    const data: unknown = this.data;
    if (isRecord(data) && data["kind"] === "validation" && Array.isArray(data["fields"])) {
      return data["fields"].filter(isValidationIssue);
    }
    return [];
  }

  /** Seconds to wait before retrying, for a rate-limited error. */
  get retryAfterSeconds(): number | undefined {
    const data: unknown = this.data;
    if (isRecord(data) && data["kind"] === "rateLimited" && typeof data["retryAfterSeconds"] === "number") {
      return data["retryAfterSeconds"];
    }
    return undefined;
  }

  /** The error as a JSON-RPC error object. */
  toJSON(): JsonRpcErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/**
 * What went wrong below the JSON-RPC layer:
 * - `"network"`: the request could not be sent or the connection broke;
 * - `"timeout"`: the client-side timeout elapsed;
 * - `"aborted"`: the caller's `AbortSignal` fired;
 * - `"http"`: an unexpected HTTP status without a JSON-RPC error body;
 * - `"invalid-response"`: the body was not JSON, or not a valid JSON-RPC
 *   response for the request that was sent.
 */
export type TransportErrorKind = "network" | "timeout" | "aborted" | "http" | "invalid-response";

/**
 * A failure of the HTTP transport: the request failed, timed out or was
 * aborted, or the server answered with something that is not a JSON-RPC
 * response (wrong status, non-JSON body, mismatched id...).
 */
export class TransportError extends Error {
  /** The category of the failure. */
  readonly kind: TransportErrorKind;
  /** The HTTP status, when a response was received. */
  readonly status?: number;
  /** The start of the response body (at most 2 KiB), when one was read. */
  readonly body?: string;

  constructor(
    kind: TransportErrorKind,
    message: string,
    options: { status?: number; body?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TransportError";
    this.kind = kind;
    if (options.status !== undefined) this.status = options.status;
    if (options.body !== undefined) this.body = options.body.slice(0, 2048);
  }
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/** A `fetch`-compatible function (the global `fetch`, undici's, a test double...). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * Returns the current access token (sync or async). `undefined`, `null` or
 * `""` means "send no `Authorization` header". Called before every request and
 * before every (re)connection of an event stream, so it can hand out freshly
 * refreshed tokens. A static API key is a provider that always returns it.
 */
export type AccessTokenProvider = () =>
  | string
  | undefined
  | null
  | Promise<string | undefined | null>;

/**
 * Obtains a new access token after the server refused the current one (see
 * {@link ConnectionOptions.refreshAccessToken}). Resolves with the new token,
 * or with `null`/`undefined`/`""` when there is none to be had (the user must
 * log in again); throwing counts as a failure too.
 */
export type AccessTokenRefresher = () =>
  | string
  | undefined
  | null
  | Promise<string | undefined | null>;

/** What {@link ConnectionOptions.onAuthFailure} receives when a refresh fails. */
export interface AuthFailure {
  /**
   * The server's refusal that started the refresh: an `UNAUTHENTICATED`
   * {@link RpcError} (`data.reason` says why), or a bare HTTP 401
   * {@link TransportError} from the event stream.
   */
  error: RpcError | TransportError;
  /** What `refreshAccessToken` threw; absent when it resolved without a token. */
  refreshError?: unknown;
}

/** How to reach and authenticate against a Weft server. */
export interface ConnectionOptions {
  /**
   * Server base URL, e.g. `"https://api.example.com"` or
   * `"http://127.0.0.1:8080/prefix"`. `"/rpc"` and `"/events"` are appended;
   * trailing slashes are ignored.
   */
  baseUrl: string;
  /** `fetch` implementation; defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Supplies the bearer token sent as `Authorization: Bearer <token>`. */
  getAccessToken?: AccessTokenProvider;
  /**
   * Called when the server refuses the access token: a call answered
   * `UNAUTHENTICATED` (`-32001`) with `data.reason` one of `missingToken`,
   * `invalidToken`, `expiredToken` or `sessionRevoked`, or an event stream
   * answered HTTP 401. Concurrent refusals share one refresh (single flight);
   * each refused call is then sent again, once, with the new token, and an
   * event stream reconnects with it (resuming after its last event id).
   *
   * The token it resolves with is used for those retries; later requests ask
   * `getAccessToken` again (so store the new token where it reads it), or
   * use this token when there is no `getAccessToken`.
   *
   * It may call the client's public procedures (`auth.refresh`); a call that
   * needs a token, made from inside it, would wait for the refresh itself
   * until its timeout. Without it, refusals reject at once (static tokens,
   * API keys).
   */
  refreshAccessToken?: AccessTokenRefresher;
  /**
   * Called once per failed refresh (it resolved without a token or threw).
   * The calls that waited for it reject with the server's `UNAUTHENTICATED`
   * {@link RpcError}; event streams end with `{ reason: "fatal" }`. The
   * place to send the user to the login page.
   */
  onAuthFailure?: (failure: AuthFailure) => void;
  /** Extra headers sent with every request. */
  headers?: HeadersInit;
}

/** Automatic batching of {@link RpcTransport.call}s, see {@link ClientOptions.batching}. */
export interface BatchingOptions {
  /**
   * Most calls in one request; more are split into several. Default `50`
   * (the server's default `WEFT_MAX_BATCH`).
   */
  maxSize?: number;
  /**
   * Largest request body in bytes; calls that would make a batch larger go in
   * the next one. Default `1048576` (the server's default `WEFT_MAX_BODY_BYTES`).
   */
  maxBytes?: number;
  /**
   * How long to collect calls, in ms. `0` (default): the calls made in the
   * same tick (before the next microtask checkpoint), e.g. in one
   * `Promise.all([...])`.
   */
  waitMs?: number;
}

/** Options of {@link RpcTransport} (and of the generated `createClient`). */
export interface ClientOptions extends ConnectionOptions {
  /**
   * Per-call timeout in milliseconds, covering everything the call waits
   * for: the token provider, a token refresh, sending, the response and a
   * retry. `0` disables it. Default: `30000`.
   *
   * A call whose params ask the server to wait (`wait: true`, as
   * `workflow.execute` takes) gets at least the server's wait plus 10 s:
   * `waitTimeoutMs` (default `30000`) + `10000`, so the client never gives up
   * just before the server answers. An explicit {@link CallOptions.timeoutMs}
   * is used as given.
   */
  timeoutMs?: number;
  /**
   * Sends the calls made in the same tick as one JSON-RPC batch request
   * (`true`, the default, or {@link BatchingOptions}); `false` sends each
   * call alone. Each call still settles on its own: with its own result or
   * error, its own signal and timeout. A call aborted (or timed out) before
   * its batch is sent is left out of it; once sent, the request goes on for
   * the others (the server may still run the aborted call) and is aborted
   * only when every call in it has been. Calls with their own `headers` and
   * calls that ask the server to wait (`wait: true`) are always sent alone,
   * so they never hold up others. Explicit {@link RpcTransport.batch}es are
   * sent as they are.
   */
  batching?: boolean | BatchingOptions;
}

/** Per-call options of {@link RpcTransport.call}, `notify` and `batch`. */
export interface CallOptions {
  /** Aborts the call; it then rejects with a `TransportError` of kind `"aborted"`. */
  signal?: AbortSignal;
  /** Overrides {@link ClientOptions.timeoutMs} for this call (`0`: none). */
  timeoutMs?: number;
  /** Extra headers for this request only (such a call is never batched). */
  headers?: HeadersInit;
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/** The `data.reason`s of an `UNAUTHENTICATED` error that a new access token can cure. */
const TOKEN_REASONS: readonly string[] = [
  "missingToken",
  "invalidToken",
  "expiredToken",
  "sessionRevoked",
] satisfies UnauthenticatedReason[];

/**
 * True when `error` says the access token was refused, so that a new token
 * may help: an `UNAUTHENTICATED` {@link RpcError} whose `data.reason` is
 * `missingToken`, `invalidToken`, `expiredToken` or `sessionRevoked` (not
 * wrong login credentials or an invalid refresh token or ticket).
 */
export function isTokenRefused(error: unknown): error is RpcError {
  if (!(error instanceof RpcError) || !error.isUnauthenticated()) return false;
  const data = error.dataOf("unauthenticated");
  return data !== undefined && TOKEN_REASONS.includes(data.reason);
}

const TOKENS = Symbol("weft.tokens");

/** Hands out access tokens and runs refreshes one at a time (single flight). */
class TokenSource {
  readonly #options: ConnectionOptions;
  #generation = 0;
  #refreshed: string | undefined;
  #pending: Promise<string | undefined> | undefined;

  constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  /** Counts finished refreshes: a request remembers it to know whether one finished since. */
  get generation(): number {
    return this.#generation;
  }

  get canRefresh(): boolean {
    return this.#options.refreshAccessToken !== undefined;
  }

  /** The token to send now, `undefined` for none. */
  async current(): Promise<string | undefined> {
    const provider = this.#options.getAccessToken;
    return (provider !== undefined ? await provider() : this.#refreshed) || undefined;
  }

  /**
   * A new token after a request that read its token at `generation` was
   * refused with `error`; `undefined` when the refresh failed. A refresh
   * already running is shared; one that finished since that request started
   * is not repeated (its outcome is the answer).
   */
  refresh(generation: number, error: RpcError | TransportError): Promise<string | undefined> {
    if (generation !== this.#generation) return Promise.resolve(this.#refreshed);
    if (this.#pending === undefined) {
      const refresher = this.#options.refreshAccessToken;
      this.#pending = (async () => {
        let token: string | undefined;
        let failure: AuthFailure | undefined;
        try {
          token = (await refresher?.()) || undefined;
          if (token === undefined) failure = { error };
        } catch (thrown) {
          failure = { error, refreshError: thrown };
        }
        this.#refreshed = token;
        this.#generation += 1;
        this.#pending = undefined;
        if (failure !== undefined && this.#options.onAuthFailure !== undefined) {
          try {
            this.#options.onAuthFailure(failure);
          } catch (thrown) {
            rethrowLater(thrown);
          }
        }
        return token;
      })();
    }
    return this.#pending;
  }
}

function tokensOf(options: ConnectionOptions): TokenSource {
  const shared = (options as { [TOKENS]?: TokenSource })[TOKENS];
  return shared ?? new TokenSource(options);
}

// ---------------------------------------------------------------------------
// RPC transport
// ---------------------------------------------------------------------------

/** The shape of one procedure in a procedure map. */
export interface ProcedureDef {
  params: unknown;
  result: unknown;
}

/**
 * Constraint for procedure maps: `P extends ProcedureMap<P>` accepts both
 * interfaces and type aliases mapping method names to {@link ProcedureDef}s.
 * (A plain `Record<string, ProcedureDef>` constraint would reject interfaces,
 * which have no implicit index signature.)
 */
export type ProcedureMap<P> = { [K in keyof P]: ProcedureDef };

/** The method names of a procedure map. */
export type MethodOf<P> = keyof P & string;

/** One `[method, params]` entry of a {@link RpcTransport.batch} call. */
export type BatchCall<P extends ProcedureMap<P>> = {
  [M in MethodOf<P>]: readonly [method: M, params: P[M]["params"]];
}[MethodOf<P>];

/** The settled outcome of one batch entry. */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: RpcError };

/** The tuple of {@link BatchResult}s matching a tuple of {@link BatchCall}s. */
export type BatchResults<P extends ProcedureMap<P>, B extends readonly unknown[]> = {
  -readonly [I in keyof B]: B[I] extends readonly [infer M, unknown]
    ? M extends MethodOf<P>
      ? BatchResult<P[M]["result"]>
      : never
    : never;
};

const DEFAULT_TIMEOUT_MS = 30_000;
/** The server's wait when `wait: true` comes without `waitTimeoutMs`. */
const SERVER_WAIT_MS = 30_000;
/** How much longer than the server's wait a waiting call's timeout is. */
const WAIT_MARGIN_MS = 10_000;
/** `setTimeout` fires at once for longer delays. */
const MAX_TIMER_MS = 2_147_483_647;

type ParsedResponse =
  | { id: JsonRpcId; ok: true; result: unknown }
  | { id: JsonRpcId; ok: false; error: JsonRpcErrorObject };

/**
 * How a call ended. `whole`: the failure is the request's (transport,
 * whole-batch error, abort or timeout), not this call's own error.
 */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown; whole?: boolean };

/** A call on its way: queued, in flight, or waiting for a refresh. */
interface Entry {
  readonly method: string;
  readonly params: unknown;
  readonly signal: AbortSignal;
  readonly headers: HeadersInit | undefined;
  id: number;
  json: string;
  bytes: number;
  /** The token to send instead of the provider's (a retry after a refresh). */
  token?: string;
  retried: boolean;
  done: boolean;
  /** Told once when the entry settles (counts the calls a request still serves). */
  onDone?: () => void;
  settle(outcome: Outcome): void;
}

/** A call's own signal: fires on the caller's signal or on the timeout, with the error to reject with. */
interface Scope {
  readonly signal: AbortSignal;
  dispose(): void;
}

function openScope(external: AbortSignal | undefined, timeoutMs: number): Scope {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = (): void =>
    controller.abort(new TransportError("aborted", "request aborted", { cause: external?.reason }));
  if (external?.aborted) {
    onAbort();
  } else {
    external?.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs > 0) {
      timer = setTimeout(
        () => controller.abort(new TransportError("timeout", `request timed out after ${timeoutMs} ms`)),
        Math.min(timeoutMs, MAX_TIMER_MS),
      );
    }
  }
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      external?.removeEventListener("abort", onAbort);
    },
  };
}

/** How long the server is asked to wait, for params with `wait: true`. */
function serverWaitMs(params: unknown): number | undefined {
  if (!isRecord(params) || params["wait"] !== true) return undefined;
  const wait = params["waitTimeoutMs"];
  return typeof wait === "number" && wait >= 0 ? wait : SERVER_WAIT_MS;
}

/**
 * Typed JSON-RPC 2.0 client over `POST {baseUrl}/rpc`.
 *
 * `P` is the procedure map (the generated `Procedures` interface), mapping
 * each method name to its `params` and `result` types.
 *
 * Every method rejects with {@link RpcError} when the server answers with a
 * JSON-RPC error, and with {@link TransportError} for everything else. Calls
 * made in the same tick are sent as one batch (see
 * {@link ClientOptions.batching}); refused tokens are refreshed (see
 * {@link ConnectionOptions.refreshAccessToken}).
 */
export class RpcTransport<P extends ProcedureMap<P>> {
  readonly #options: Readonly<ClientOptions>;
  readonly #url: string;
  readonly #tokens: TokenSource;
  readonly #batching: Required<BatchingOptions> | undefined;
  #queue: Entry[] = [];
  #flushScheduled = false;
  #nextId = 1;

  constructor(options: ClientOptions) {
    if (typeof options.baseUrl !== "string" || options.baseUrl === "") {
      throw new TypeError("RpcTransport: options.baseUrl is required");
    }
    this.#options = { ...options };
    this.#url = joinUrl(options.baseUrl, "/rpc");
    this.#tokens = new TokenSource(this.#options);
    const batching = options.batching ?? true;
    this.#batching =
      batching === false
        ? undefined
        : {
            maxSize: Math.max(1, (batching === true ? undefined : batching.maxSize) ?? 50),
            maxBytes: (batching === true ? undefined : batching.maxBytes) ?? 1_048_576,
            waitMs: nonNegative(batching === true ? undefined : batching.waitMs, 0),
          };
  }

  /** The options this transport was created with. */
  get options(): Readonly<ClientOptions> {
    return this.#options;
  }

  /**
   * Calls `method` and resolves with its result.
   *
   * @throws {@link RpcError} when the server answers with an error object.
   * @throws {@link TransportError} on network/HTTP/protocol failures, an
   *   abort (`"aborted"`) or the timeout (`"timeout"`).
   */
  call<M extends MethodOf<P>>(method: M, params: P[M]["params"], options?: CallOptions): Promise<P[M]["result"]> {
    return new Promise((resolve, reject) => {
      const scope = openScope(options?.signal, this.#timeoutFor([params], options));
      let entry: Entry;
      try {
        entry = this.#entry(method, params, scope.signal, options?.headers, (outcome) => {
          scope.dispose();
          if (outcome.ok) resolve(outcome.value as P[M]["result"]);
          else reject(outcome.error);
        });
      } catch (error) {
        // Params that cannot be serialized (cycles, BigInt).
        scope.dispose();
        throw error;
      }
      if (!entry.done) this.#enqueue(entry);
    });
  }

  /**
   * Sends `method` as a notification (no id): the server runs it but sends no
   * result. Resolves once the server has accepted the request. Never batched
   * and never retried.
   *
   * @throws {@link RpcError} if the server rejects the request as a whole
   *   (e.g. payload too large).
   * @throws {@link TransportError} on network/HTTP failures, abort or timeout.
   */
  async notify<M extends MethodOf<P>>(method: M, params: P[M]["params"], options?: CallOptions): Promise<void> {
    const scope = openScope(options?.signal, this.#timeoutFor([params], options));
    try {
      scope.signal.throwIfAborted();
      const token = await raceSignal(this.#tokens.current(), scope.signal);
      const body = await this.#post(
        JSON.stringify({ jsonrpc: "2.0", method, params }),
        this.#headers(options?.headers, token),
        scope.signal,
      );
      if (body === undefined) return;
      // A conforming server answers notifications with 204; tolerate a body but
      // surface a request-level error if that is what it contains.
      const response = parseResponse(body);
      if (response !== undefined && !response.ok && response.id === null) {
        throw new RpcError(response.error, { method, requestId: null });
      }
    } finally {
      scope.dispose();
    }
  }

  /**
   * Sends several calls in one JSON-RPC batch and resolves with one settled
   * result per call, in request order (responses are matched by id, not by
   * position). A failed call does not fail the batch. Calls refused for their
   * token are retried after a refresh, like single calls.
   *
   * @example
   * ```ts
   * const [me, sessions] = await rpc.batch([["auth.me", {}], ["auth.sessions", {}]] as const);
   * if (me.ok) console.log(me.value.email);
   * ```
   *
   * @throws {@link RpcError} when the server rejects the batch as a whole
   *   (e.g. too many entries or body too large).
   * @throws {@link TransportError} on network/HTTP/protocol failures,
   *   including a missing response for one of the calls, abort or timeout.
   */
  async batch<const B extends readonly BatchCall<P>[]>(calls: B, options?: CallOptions): Promise<BatchResults<P, B>> {
    if (calls.length === 0) return [] as unknown as BatchResults<P, B>;
    const pairs = calls as unknown as ReadonlyArray<readonly [string, unknown]>;
    const scope = openScope(
      options?.signal,
      this.#timeoutFor(
        pairs.map(([, params]) => params),
        options,
      ),
    );
    try {
      const outcomes = await new Promise<Outcome[]>((resolve) => {
        const results: Outcome[] = [];
        let left = pairs.length;
        const entries = pairs.map(([method, params], index) =>
          this.#entry(method, params, scope.signal, options?.headers, (outcome) => {
            results[index] = outcome;
            if (--left === 0) resolve(results);
          }),
        );
        void this.#send(entries, true);
      });
      const results = outcomes.map((outcome) => {
        if (outcome.ok) return outcome;
        if (outcome.whole === true || !(outcome.error instanceof RpcError)) throw outcome.error;
        return { ok: false as const, error: outcome.error };
      });
      return results as unknown as BatchResults<P, B>;
    } finally {
      scope.dispose();
    }
  }

  /**
   * Opens the server's event stream using this transport's connection
   * options (base URL, fetch, token provider and refresh, headers). See
   * {@link subscribeEvents}.
   */
  subscribeEvents(options: Omit<SubscribeOptions, keyof ConnectionOptions> & Partial<ConnectionOptions>): EventSubscription {
    return subscribeEvents(this.#streamOptions(options) as SubscribeOptions);
  }

  /**
   * Opens the server's event stream as an async iterator using this
   * transport's connection options. See {@link streamEvents}.
   */
  streamEvents(options: Omit<StreamEventsOptions, keyof ConnectionOptions> & Partial<ConnectionOptions> = {}): EventStream {
    return streamEvents(this.#streamOptions(options) as StreamEventsOptions);
  }

  #streamOptions(options: Partial<ConnectionOptions>): ConnectionOptions {
    const { baseUrl, fetch, getAccessToken, refreshAccessToken, onAuthFailure, headers } = this.#options;
    const merged: ConnectionOptions = {
      ...definedOnly({ baseUrl, fetch, getAccessToken, refreshAccessToken, onAuthFailure, headers }),
      ...definedOnly(options),
    } as ConnectionOptions;
    // The stream shares this transport's refreshes unless it brings its own tokens.
    if (options.getAccessToken === undefined && options.refreshAccessToken === undefined) {
      (merged as { [TOKENS]?: TokenSource })[TOKENS] = this.#tokens;
    }
    return merged;
  }

  /** The timeout of a request carrying `params` (one entry per call). */
  #timeoutFor(params: readonly unknown[], options: CallOptions | undefined): number {
    if (options?.timeoutMs !== undefined) return options.timeoutMs;
    let timeout = this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (timeout <= 0) return 0;
    for (const p of params) {
      const wait = serverWaitMs(p);
      if (wait !== undefined) timeout = Math.max(timeout, wait + WAIT_MARGIN_MS);
    }
    return timeout;
  }

  #entry(
    method: string,
    params: unknown,
    signal: AbortSignal,
    headers: HeadersInit | undefined,
    onSettled: (outcome: Outcome) => void,
  ): Entry {
    const onAbort = (): void => entry.settle({ ok: false, error: signal.reason, whole: true });
    const entry: Entry = {
      method,
      params,
      signal,
      headers,
      id: 0,
      json: "",
      bytes: 0,
      retried: false,
      done: false,
      settle: (outcome) => {
        if (entry.done) return;
        entry.done = true;
        signal.removeEventListener("abort", onAbort);
        entry.onDone?.();
        onSettled(outcome);
      },
    };
    this.#number(entry);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    return entry;
  }

  /** Gives the entry a fresh id and serializes it. */
  #number(entry: Entry): void {
    entry.id = this.#nextId++;
    entry.json = JSON.stringify({ jsonrpc: "2.0", method: entry.method, params: entry.params, id: entry.id });
    entry.bytes = utf8Length(entry.json);
  }

  #enqueue(entry: Entry): void {
    const batching = this.#batching;
    if (batching === undefined || entry.headers !== undefined || serverWaitMs(entry.params) !== undefined) {
      void this.#send([entry], false);
      return;
    }
    this.#queue.push(entry);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    if (batching.waitMs > 0) setTimeout(this.#flush, batching.waitMs);
    else queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const { maxSize, maxBytes } = this.#batching ?? { maxSize: 1, maxBytes: 0 };
    const queue = this.#queue.filter((entry) => !entry.done);
    this.#queue = [];
    let chunk: Entry[] = [];
    let bytes = 2;
    for (const entry of queue) {
      if (chunk.length > 0 && (chunk.length >= maxSize || bytes + 1 + entry.bytes > maxBytes)) {
        void this.#send(chunk, false);
        chunk = [];
        bytes = 2;
      }
      chunk.push(entry);
      bytes += entry.bytes + 1;
    }
    if (chunk.length > 0) void this.#send(chunk, false);
  };

  /**
   * Sends `entries` in one request (an array when `asArray` or when there
   * are several) and settles each. Never rejects.
   */
  async #send(entries: Entry[], asArray: boolean): Promise<void> {
    const flight = new AbortController();
    let waiting = 0;
    for (const entry of entries) {
      if (entry.done) continue;
      waiting += 1;
      entry.onDone = () => {
        if (--waiting === 0) flight.abort();
      };
    }
    if (waiting === 0) return;
    const generation = this.#tokens.generation;
    try {
      const provided = entries.some((entry) => entry.token === undefined)
        ? await raceSignal(this.#tokens.current(), flight.signal)
        : undefined;
      // Retries carry the refreshed token; group by token (normally one group).
      const groups = new Map<string | undefined, Entry[]>();
      for (const entry of entries) {
        if (entry.done) continue;
        const token = entry.token ?? provided;
        const group = groups.get(token);
        if (group === undefined) groups.set(token, [entry]);
        else group.push(entry);
      }
      await Promise.all(
        [...groups].map(([token, group]) => this.#exchange(group, asArray || group.length > 1, token, generation, flight.signal)),
      );
    } catch (error) {
      // The token provider failed (or everyone left): whoever is still waiting gets the error.
      for (const entry of entries) entry.settle({ ok: false, error, whole: true });
    }
  }

  async #exchange(
    entries: Entry[],
    asArray: boolean,
    token: string | undefined,
    generation: number,
    signal: AbortSignal,
  ): Promise<void> {
    const first = entries[0];
    if (first === undefined) return;
    let outcomes: Outcome[];
    try {
      const body = await this.#post(
        asArray ? `[${entries.map((entry) => entry.json).join(",")}]` : first.json,
        this.#headers(first.headers, token),
        signal,
      );
      outcomes = asArray ? batchOutcomes(body, entries) : [singleOutcome(body, first)];
    } catch (error) {
      outcomes = entries.map(() => ({ ok: false, error, whole: true }));
    }
    entries.forEach((entry, index) => {
      if (entry.done) return;
      const outcome = outcomes[index] ?? { ok: false, error: new TransportError("invalid-response", "no outcome") };
      if (!outcome.ok && !entry.retried && this.#tokens.canRefresh && isTokenRefused(outcome.error)) {
        void this.#retry(entry, generation, outcome.error);
      } else {
        entry.settle(outcome);
      }
    });
  }

  /** Sends a refused call again, once, after the (shared) refresh. */
  async #retry(entry: Entry, generation: number, error: RpcError): Promise<void> {
    entry.onDone = undefined;
    let token: string | undefined;
    try {
      token = await raceSignal(this.#tokens.refresh(generation, error), entry.signal);
    } catch {
      return; // aborted or timed out: already settled
    }
    if (entry.done) return;
    if (token === undefined) {
      entry.settle({ ok: false, error });
      return;
    }
    entry.retried = true;
    entry.token = token;
    this.#number(entry);
    this.#enqueue(entry);
  }

  #headers(extra: HeadersInit | undefined, token: string | undefined): Headers {
    const headers = mergeHeaders(this.#options.headers, extra);
    headers.set("content-type", "application/json");
    headers.set("accept", "application/json");
    if (token) headers.set("authorization", `Bearer ${token}`);
    return headers;
  }

  /**
   * POSTs `body` and returns the parsed JSON body, or `undefined` for HTTP
   * 204. Throws RpcError for non-2xx statuses carrying a JSON-RPC error, and
   * `signal.reason` as soon as `signal` aborts.
   */
  async #post(body: string, headers: Headers, signal: AbortSignal): Promise<unknown> {
    const fail = (error: unknown, what: string): unknown =>
      signal.aborted
        ? signal.reason
        : new TransportError("network", `${what}: ${errorMessage(error)}`, { cause: error });
    let response: Response;
    try {
      signal.throwIfAborted();
      response = await raceSignal(resolveFetch(this.#options.fetch)(this.#url, { method: "POST", headers, body, signal }), signal);
    } catch (error) {
      throw fail(error, "request failed");
    }
    const status = response.status;
    if (status === 204) {
      void discardBody(response);
      signal.throwIfAborted();
      return undefined;
    }
    let text: string;
    try {
      text = await raceSignal(response.text(), signal);
    } catch (error) {
      throw fail(error, "reading the response failed");
    }
    let json: unknown;
    let parsed = false;
    if (text.trim() !== "") {
      try {
        json = JSON.parse(text);
        parsed = true;
      } catch {
        parsed = false;
      }
    }
    if (!response.ok) {
      const error = parsed ? errorObjectOf(json) : undefined;
      if (error !== undefined) throw new RpcError(error.error, { requestId: error.id });
      throw new TransportError("http", `unexpected HTTP status ${status}`, { status, body: text });
    }
    if (!parsed) {
      throw new TransportError("invalid-response", `response body is not JSON (HTTP ${status})`, {
        status,
        body: text,
      });
    }
    return json;
  }
}

/** The outcome of a call sent alone. */
function singleOutcome(body: unknown, entry: Entry): Outcome {
  const { method, id } = entry;
  const invalid = (message: string, options?: { status?: number; body?: string }): Outcome => ({
    ok: false,
    whole: true,
    error: new TransportError("invalid-response", `${method}: ${message}`, options),
  });
  if (body === undefined) return invalid("server sent no response (HTTP 204) to a call", { status: 204 });
  const response = parseResponse(body);
  if (response === undefined) return invalid("response is not a JSON-RPC response object", { body: safeStringify(body) });
  if (!response.ok && (response.id === id || response.id === null)) {
    return { ok: false, error: new RpcError(response.error, { method, requestId: id }) };
  }
  if (response.id !== id) {
    return invalid(`response id ${JSON.stringify(response.id)} does not match request id ${id}`);
  }
  return response.ok
    ? { ok: true, value: response.result }
    : { ok: false, error: new RpcError(response.error, { method, requestId: id }) };
}

/** The outcomes of calls sent as one batch, matched by id. */
function batchOutcomes(body: unknown, entries: readonly Entry[]): Outcome[] {
  const whole = (error: unknown): Outcome[] => entries.map(() => ({ ok: false, error, whole: true }));
  if (body === undefined) {
    return whole(new TransportError("invalid-response", "batch: server sent no response (HTTP 204)", { status: 204 }));
  }
  if (!Array.isArray(body)) {
    const response = parseResponse(body);
    if (response !== undefined && !response.ok) return whole(new RpcError(response.error, { requestId: response.id }));
    return whole(new TransportError("invalid-response", "batch: response is not an array", { body: safeStringify(body) }));
  }
  const byId = new Map<JsonRpcId, ParsedResponse>();
  for (const item of body) {
    const response = parseResponse(item);
    if (response === undefined) {
      return whole(
        new TransportError("invalid-response", "batch: invalid JSON-RPC response in batch", { body: safeStringify(item) }),
      );
    }
    byId.set(response.id, response);
  }
  return entries.map((entry): Outcome => {
    const response = byId.get(entry.id);
    if (response === undefined) {
      return {
        ok: false,
        whole: true,
        error: new TransportError("invalid-response", `batch: no response for ${entry.method} (id ${entry.id})`),
      };
    }
    return response.ok
      ? { ok: true, value: response.result }
      : { ok: false, error: new RpcError(response.error, { method: entry.method, requestId: entry.id }) };
  });
}

// ---------------------------------------------------------------------------
// Server-Sent Events: parser
// ---------------------------------------------------------------------------

/** One event dispatched by {@link SseParser}. */
export interface SseMessage {
  /**
   * The value of the frame's `event:` field, or `""` when it had none (the
   * browser's `EventSource` would call that a `"message"` event).
   */
  event: string;
  /** The frame's `data:` lines joined with `"\n"`. */
  data: string;
  /** The stream's last event id at dispatch time (`""` if none was ever set). */
  lastEventId: string;
}

/** Callbacks of {@link SseParser}. */
export interface SseParserHandlers {
  /** Called for every complete event that carries data. */
  onMessage: (message: SseMessage) => void;
  /** Called for a valid `retry:` field with the reconnection delay in ms. */
  onRetry?: (ms: number) => void;
  /** Called for comment lines (`: ...`) with the text after the colon. */
  onComment?: (text: string) => void;
}

/**
 * Incremental parser for the `text/event-stream` format, following the WHATWG
 * HTML "event stream interpretation" rules: LF, CR and CRLF line endings (a
 * CRLF may be split across chunks), a leading BOM, multi-line `data:`, `id:`
 * (ignored if it contains NUL), `event:`, `retry:` (digits only), comments and
 * unknown fields. An unterminated event at the end of the stream is discarded.
 *
 * Feed it decoded text (use `TextDecoder` with `{ stream: true }`).
 */
export class SseParser {
  readonly #handlers: SseParserHandlers;
  readonly #lineBreak = /\r\n|\r|\n/g;
  #buffer = "";
  #pendingCR = false;
  #started = false;
  #data: string[] = [];
  #eventType = "";
  #lastEventIdBuffer: string;
  #lastEventId: string;

  /**
   * @param handlers - callbacks for events, `retry:` and comments
   * @param lastEventId - the last event id carried over from a previous connection
   */
  constructor(handlers: SseParserHandlers, lastEventId = "") {
    this.#handlers = handlers;
    this.#lastEventIdBuffer = lastEventId;
    this.#lastEventId = lastEventId;
  }

  /** The last event id seen (updated when an event is dispatched). */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** Parses the next piece of the stream. */
  feed(chunk: string): void {
    if (chunk === "") return;
    let text = chunk;
    if (!this.#started) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (text.charCodeAt(0) === 0x0a) text = text.slice(1);
    }
    const buffer = this.#buffer + text;
    const lineBreak = this.#lineBreak;
    let start = 0;
    lineBreak.lastIndex = 0;
    for (let match = lineBreak.exec(buffer); match !== null; match = lineBreak.exec(buffer)) {
      const end = match.index;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (match[0] === "\r" && end === buffer.length - 1) this.#pendingCR = true;
      const line = buffer.slice(start, end);
      start = lineBreak.lastIndex;
      this.#line(line);
      lineBreak.lastIndex = start; // robust against re-entrant use from a handler
    }
    this.#buffer = buffer.slice(start);
  }

  /**
   * Signals the end of the stream: an event not yet terminated by a blank line
   * is discarded (as the specification requires) and the parser is reset for a
   * new connection, keeping the last event id.
   */
  end(): void {
    this.#buffer = "";
    this.#pendingCR = false;
    this.#started = false;
    this.#data = [];
    this.#eventType = "";
    this.#lastEventIdBuffer = this.#lastEventId;
  }

  #line(line: string): void {
    if (line === "") {
      this.#dispatch();
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* ":" */) {
      this.#handlers.onComment?.(line.slice(1));
      return;
    }
    const colon = line.indexOf(":");
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = "";
    } else {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 0x20 /* " " */) value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.#eventType = value;
        break;
      case "data":
        this.#data.push(value);
        break;
      case "id":
        if (!value.includes("\u0000")) this.#lastEventIdBuffer = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.#handlers.onRetry?.(Number.parseInt(value, 10));
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
  }

  #dispatch(): void {
    this.#lastEventId = this.#lastEventIdBuffer;
    if (this.#data.length === 0) {
      this.#eventType = "";
      return;
    }
    const message: SseMessage = {
      event: this.#eventType,
      data: this.#data.join("\n"),
      lastEventId: this.#lastEventId,
    };
    this.#data = [];
    this.#eventType = "";
    this.#handlers.onMessage(message);
  }
}

// ---------------------------------------------------------------------------
// Server-Sent Events: subscription
// ---------------------------------------------------------------------------

/** Metadata delivered with each event. */
export interface EventMeta {
  /** The stream's last event id (`id:` field), if the server has sent one. */
  id?: string;
  /** The SSE `event:` name, or the JSON `type` when the frame had no `event:` field. */
  type: string;
}

/** Reconnection policy: capped exponential backoff with jitter. */
export interface ReconnectOptions {
  /** First delay in ms; a server `retry:` field replaces it. Default `1000`. */
  initialDelayMs?: number;
  /** Upper bound of the delay in ms. Default `30000`. */
  maxDelayMs?: number;
  /** Growth factor per failed attempt. Default `2`. */
  multiplier?: number;
  /**
   * Random fraction removed from each delay, in `[0, 1]`: the actual delay is
   * uniform in `[d * (1 - jitter), d]`. Default `0.5`.
   */
  jitter?: number;
  /**
   * Consecutive reconnection attempts without receiving an event before
   * giving up. Default `Infinity`.
   */
  maxAttempts?: number;
}

/** Lifecycle state of an {@link EventSubscription}. */
export type SubscriptionState = "connecting" | "open" | "reconnecting" | "closed";

/** Why an {@link EventSubscription} stopped for good. */
export type SubscriptionEnd =
  /** `close()` was called. */
  | { reason: "closed" }
  /** The `signal` passed in the options fired. */
  | { reason: "aborted" }
  /**
   * A non-retryable failure: HTTP 401 (the token is missing, invalid,
   * expired or its session was revoked) without `refreshAccessToken` or when
   * the refresh failed, 403, another 4xx, or a response that is not an event
   * stream.
   */
  | { reason: "fatal"; error: RpcError | TransportError }
  /** The server answered 204 No Content: it asks the client not to reconnect. */
  | { reason: "noContent" }
  /** The server closed the stream and reconnection is disabled. */
  | { reason: "serverClosed" }
  /** `reconnect.maxAttempts` consecutive attempts failed. */
  | { reason: "retriesExhausted"; error: Error };

/** Context passed to {@link SubscribeOptions.onError}. */
export interface SubscriptionErrorInfo {
  /**
   * Where it happened: establishing the connection, reading the stream, an
   * event whose data is not a valid event, or the `onEvent` callback throwing.
   */
  phase: "connect" | "stream" | "event" | "handler";
  /** True when the subscription stops because of this error. */
  fatal: boolean;
  /** Delay in ms before the next connection attempt, when one is scheduled. */
  retryInMs?: number;
}

/**
 * Something an event stream follows besides the caller's personal events: one
 * run, a workflow (its edits, presence, comments and runs) or a whole project.
 */
export type Topic = `run:${string}` | `workflow:${string}` | `project:${string}`;

/** The callbacks and options every event subscription takes ({@link subscribeEvents}, {@link openTicketedEventSource}). */
export interface StreamListenerOptions {
  /**
   * What to follow. Without topics the stream follows every project the caller
   * is a member of. A topic the caller may not see makes the server answer 404
   * (a fatal end). Events carry ids; after a reconnection the server replays
   * what was missed, or sends `resync` when it no longer can: then refetch what
   * is on screen.
   */
  topics?: readonly Topic[];
  /** Called for every event received. */
  onEvent: (event: WeftEvent, meta: EventMeta) => void;
  /** Called each time a connection opens. */
  onOpen?: () => void;
  /**
   * Called for every error: failed connections and tickets (followed by a
   * reconnection unless `info.fatal`), malformed events (skipped) and
   * exceptions thrown by `onEvent`. Without `onError`, exceptions thrown by `onEvent` are re-thrown
   * asynchronously (like exceptions in DOM event listeners).
   */
  onError?: (error: Error, info: SubscriptionErrorInfo) => void;
  /** Called once when the subscription stops for good. */
  onClose?: (end: SubscriptionEnd) => void;
  /** Stops the subscription when it fires. */
  signal?: AbortSignal;
  /** The event id to resume after (e.g. persisted from a previous page load). */
  lastEventId?: string;
  /** Reconnection policy, or `false` to never reconnect. */
  reconnect?: ReconnectOptions | false;
  /**
   * Reconnect when nothing (events, heartbeats) arrives for this many ms, to
   * detect dead connections. `0` (default) disables it; set it well above the
   * server's heartbeat interval (`WEFT_HEARTBEAT_INTERVAL`).
   */
  idleTimeoutMs?: number;
}

/** Options of {@link subscribeEvents}. */
export interface SubscribeOptions extends ConnectionOptions, StreamListenerOptions {
  /** Path of the event stream below `baseUrl`. Default `"/events"`. */
  path?: string;
}

/** Handle of a running event subscription. */
export interface EventSubscription {
  /** Stops the subscription (idempotent); `done` resolves with `{ reason: "closed" }`. */
  close(): void;
  /** Current lifecycle state. */
  readonly state: SubscriptionState;
  /** The last event id received, sent as `Last-Event-ID` on reconnection. */
  readonly lastEventId: string | undefined;
  /** Resolves (never rejects) once the subscription has stopped for good. */
  readonly done: Promise<SubscriptionEnd>;
}

type ConnectOutcome =
  | { kind: "ended" }
  | { kind: "noContent" }
  | { kind: "fatal"; error: RpcError | TransportError; phase: "connect" | "stream" }
  | { kind: "refresh"; error: RpcError | TransportError; generation: number }
  | { kind: "retry"; error?: Error; phase: "connect" | "stream"; receivedEvents: boolean; minDelayMs?: number };

/** The state and bookkeeping shared by {@link subscribeEvents} and {@link openTicketedEventSource}. */
interface Lifecycle {
  state: SubscriptionState;
  lastEventId: string;
  ended: boolean;
  /** Aborted when the subscription ends. */
  readonly signal: AbortSignal;
  readonly handle: EventSubscription;
  report(error: Error, info: SubscriptionErrorInfo): void;
  finish(end: SubscriptionEnd): void;
  opened(): void;
  deliver(data: string, name: string, id: string): void;
  /** The delay before reconnection attempt `attempt` (0-based), or `undefined` when there is none. */
  delay(attempt: number, baseDelayMs?: number, minDelayMs?: number): number | undefined;
  /** Ends the subscription after a failure that is not retried. */
  fail(error: Error, phase: SubscriptionErrorInfo["phase"], reason?: "fatal" | "retriesExhausted"): void;
}

function lifecycle(options: StreamListenerOptions, onEnd: () => void): Lifecycle {
  const master = new AbortController();
  const policy = options.reconnect === false ? undefined : options.reconnect ?? {};
  const initialDelayMs = nonNegative(policy?.initialDelayMs, 1000);
  const maxDelayMs = nonNegative(policy?.maxDelayMs, 30_000);
  const multiplier = Math.max(1, policy?.multiplier ?? 2);
  const jitter = Math.min(1, Math.max(0, policy?.jitter ?? 0.5));
  const maxAttempts = policy?.maxAttempts ?? Number.POSITIVE_INFINITY;
  let resolveDone: (end: SubscriptionEnd) => void = () => {};
  const done = new Promise<SubscriptionEnd>((resolve) => {
    resolveDone = resolve;
  });
  const onExternalAbort = (): void => life.finish({ reason: "aborted" });

  const life: Lifecycle = {
    state: "connecting",
    lastEventId: options.lastEventId ?? "",
    ended: false,
    signal: master.signal,
    handle: {
      close: () => life.finish({ reason: "closed" }),
      get state() {
        return life.state;
      },
      get lastEventId() {
        return life.lastEventId === "" ? undefined : life.lastEventId;
      },
      done,
    },
    report(error, info) {
      if (options.onError === undefined) {
        if (info.phase === "handler") rethrowLater(error);
        return;
      }
      try {
        options.onError(error, info);
      } catch (thrown) {
        rethrowLater(thrown);
      }
    },
    finish(end) {
      if (life.ended) return;
      life.ended = true;
      life.state = "closed";
      master.abort();
      options.signal?.removeEventListener("abort", onExternalAbort);
      onEnd();
      resolveDone(end);
      if (options.onClose !== undefined) {
        try {
          options.onClose(end);
        } catch (thrown) {
          rethrowLater(thrown);
        }
      }
    },
    opened() {
      life.state = "open";
      if (options.onOpen !== undefined) {
        try {
          options.onOpen();
        } catch (error) {
          life.report(asError(error), { phase: "handler", fatal: false });
        }
      }
    },
    deliver(data, name, id) {
      life.lastEventId = id;
      let payload: unknown;
      try {
        payload = JSON.parse(data);
      } catch (error) {
        life.report(
          new TransportError("invalid-response", `event data is not JSON: ${errorMessage(error)}`, {
            body: data,
            cause: error,
          }),
          { phase: "event", fatal: false },
        );
        return;
      }
      if (!isRecord(payload) || typeof payload["type"] !== "string") {
        life.report(
          new TransportError("invalid-response", "event data is not an object with a string `type`", { body: data }),
          { phase: "event", fatal: false },
        );
        return;
      }
      const meta: EventMeta = { type: name !== "" && name !== "message" ? name : payload["type"] };
      if (id !== "") meta.id = id;
      try {
        options.onEvent(payload as unknown as WeftEvent, meta);
      } catch (error) {
        life.report(asError(error), { phase: "handler", fatal: false });
      }
    },
    delay(attempt, baseDelayMs = initialDelayMs, minDelayMs) {
      if (policy === undefined || attempt >= maxAttempts) return undefined;
      const exponential = Math.min(maxDelayMs, baseDelayMs * multiplier ** attempt);
      let delay = Math.round(exponential * (1 - jitter * Math.random()));
      if (minDelayMs !== undefined) delay = Math.max(delay, Math.min(minDelayMs, maxDelayMs));
      return delay;
    },
    fail(error, phase, reason = "fatal") {
      life.report(error, { phase, fatal: true });
      life.finish(
        reason === "fatal" && (error instanceof RpcError || error instanceof TransportError)
          ? { reason, error }
          : { reason: "retriesExhausted", error },
      );
    },
  };
  if (options.signal !== undefined) {
    if (options.signal.aborted) queueMicrotask(onExternalAbort);
    else options.signal.addEventListener("abort", onExternalAbort, { once: true });
  }
  return life;
}

/**
 * Subscribes to the server's event stream (`GET {baseUrl}/events`) using
 * `fetch`, so it can authenticate with `Authorization: Bearer <token>` from
 * `getAccessToken` (asked anew for each connection).
 *
 * Reconnects after network errors, HTTP 408/429/5xx and clean closes by the
 * server, with capped exponential backoff and jitter, sending
 * `Last-Event-ID` (the last id seen) so the server replays what was missed.
 * On HTTP 401 it calls `refreshAccessToken` when given (shared with the
 * client's calls when opened through `client.rpc.subscribeEvents`) and
 * reconnects at once with the new token; without it, or when the refresh
 * fails (or the new token is refused too), it stops, as it does on 403 and
 * other 4xx, reporting through `onError` and `done`.
 *
 * @example
 * ```ts
 * const sub = subscribeEvents({
 *   baseUrl, getAccessToken: () => session.accessToken,
 *   onEvent: (event) => { if (event.type === "session.revoked") logout(); },
 *   onError: (err, info) => console.warn(err, info),
 * });
 * // later
 * sub.close();
 * ```
 */
export function subscribeEvents(options: SubscribeOptions): EventSubscription {
  const base = joinUrl(options.baseUrl, options.path ?? "/events");
  const url =
    options.topics !== undefined && options.topics.length > 0
      ? `${base}${base.includes("?") ? "&" : "?"}topics=${options.topics.map(encodeURIComponent).join(",")}`
      : base;
  const doFetch = resolveFetch(options.fetch);
  const tokens = tokensOf(options);
  const idleTimeoutMs = nonNegative(options.idleTimeoutMs, 0);
  const life = lifecycle(options, () => {});
  let baseDelayMs = nonNegative(options.reconnect === false ? undefined : options.reconnect?.initialDelayMs, 1000);
  /** A refreshed token for the next connection; set while a refresh has not yet led to an open stream. */
  let refreshedToken: string | undefined;

  async function connectOnce(): Promise<ConnectOutcome> {
    const connection = new AbortController();
    /** The body's reader while the stream is read. */
    let activeReader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const onMasterAbort = (): void => {
      // Cancel the body first: aborting a fetch whose body is being read, with no read
      // pending (close() called from onEvent), left a rejection nobody handles in Node's fetch.
      activeReader?.cancel().catch(() => {});
      connection.abort();
    };
    life.signal.addEventListener("abort", onMasterAbort, { once: true });
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let idleFired = false;
    let receivedEvents = false;
    const armIdle = (): void => {
      if (idleTimeoutMs <= 0) return;
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idleFired = true;
        connection.abort();
      }, Math.min(idleTimeoutMs, MAX_TIMER_MS));
    };
    const signal = connection.signal;

    try {
      const generation = tokens.generation;
      let token: string | undefined;
      try {
        token = refreshedToken ?? (await raceSignal(tokens.current(), signal));
      } catch (error) {
        if (life.ended) return { kind: "ended" };
        return { kind: "retry", phase: "connect", receivedEvents, error: asError(error) };
      }
      const headers = mergeHeaders(options.headers, undefined);
      headers.set("accept", "text/event-stream");
      if (token) headers.set("authorization", `Bearer ${token}`);
      if (life.lastEventId !== "") headers.set("last-event-id", life.lastEventId);

      let response: Response;
      try {
        signal.throwIfAborted();
        response = await raceSignal(doFetch(url, { method: "GET", headers, signal }), signal);
      } catch (error) {
        if (life.ended) return { kind: "ended" };
        return {
          kind: "retry",
          phase: "connect",
          receivedEvents,
          error: new TransportError("network", `event stream connection failed: ${errorMessage(error)}`, {
            cause: error,
          }),
        };
      }
      if (life.ended) {
        void discardBody(response);
        return { kind: "ended" };
      }

      const status = response.status;
      if (status === 204) {
        void discardBody(response);
        return { kind: "noContent" };
      }
      if (!response.ok) {
        const error = await httpError(response, "event stream", signal);
        if (life.ended) return { kind: "ended" };
        if (status === 401 && refreshedToken === undefined && tokens.canRefresh) {
          if (isTokenRefused(error) || !(error instanceof RpcError)) return { kind: "refresh", error, generation };
        }
        const retryable = status === 408 || status === 429 || status >= 500;
        if (!retryable) return { kind: "fatal", phase: "connect", error };
        const outcome: ConnectOutcome = { kind: "retry", phase: "connect", receivedEvents, error };
        const retryAfter = retryAfterMs(response, error);
        if (retryAfter !== undefined) outcome.minDelayMs = retryAfter;
        return outcome;
      }
      const contentType = (response.headers.get("content-type") ?? "").toLowerCase();
      if (!contentType.startsWith("text/event-stream") || response.body === null) {
        void discardBody(response);
        return {
          kind: "fatal",
          phase: "connect",
          error: new TransportError(
            "invalid-response",
            `event stream: expected text/event-stream, got ${contentType || "no content type"}`,
            { status },
          ),
        };
      }

      refreshedToken = undefined;
      life.opened();
      if (life.ended) return { kind: "ended" };

      const parser = new SseParser(
        {
          onMessage: (message) => {
            if (life.ended) return;
            receivedEvents = true;
            life.deliver(message.data, message.event, message.lastEventId);
          },
          onRetry: (ms) => {
            baseDelayMs = ms;
          },
        },
        life.lastEventId,
      );
      const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
      const reader = response.body.getReader();
      activeReader = reader;
      armIdle();
      try {
        for (;;) {
          const { done: streamDone, value } = await raceSignal(reader.read(), signal);
          if (streamDone || life.ended) break;
          armIdle();
          parser.feed(decoder.decode(value, { stream: true }));
        }
        if (life.ended) return { kind: "ended" };
        parser.feed(decoder.decode());
        parser.end();
        return { kind: "retry", phase: "stream", receivedEvents };
      } catch (error) {
        if (life.ended) return { kind: "ended" };
        const failure = idleFired
          ? new TransportError("timeout", `event stream idle for ${idleTimeoutMs} ms`, { cause: error })
          : new TransportError("network", `event stream interrupted: ${errorMessage(error)}`, { cause: error });
        return { kind: "retry", phase: "stream", receivedEvents, error: failure };
      } finally {
        reader.cancel().catch(() => {});
      }
    } finally {
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      life.signal.removeEventListener("abort", onMasterAbort);
      // Releases the underlying connection whatever happened above.
      connection.abort();
    }
  }

  async function run(): Promise<void> {
    // Let the caller receive the handle before any callback fires.
    await Promise.resolve();
    let attempt = 0;
    while (!life.ended) {
      const outcome = await connectOnce();
      if (life.ended) return;
      switch (outcome.kind) {
        case "ended":
          return;
        case "noContent":
          life.finish({ reason: "noContent" });
          return;
        case "fatal":
          life.fail(outcome.error, outcome.phase);
          return;
        case "refresh": {
          life.state = "reconnecting";
          const token = await raceSignal(tokens.refresh(outcome.generation, outcome.error), life.signal).catch(
            () => undefined,
          );
          if (life.ended) return;
          if (token === undefined) {
            life.fail(outcome.error, "connect");
            return;
          }
          refreshedToken = token;
          break;
        }
        case "retry": {
          if (outcome.receivedEvents) attempt = 0;
          const delay = life.delay(attempt, baseDelayMs, outcome.minDelayMs);
          if (delay === undefined) {
            if (outcome.error === undefined && options.reconnect === false) {
              life.finish({ reason: "serverClosed" });
            } else {
              const error = outcome.error ?? new TransportError("network", "event stream closed by the server");
              life.fail(error, outcome.phase, "retriesExhausted");
            }
            return;
          }
          attempt += 1;
          life.state = "reconnecting";
          if (outcome.error !== undefined) {
            life.report(outcome.error, { phase: outcome.phase, fatal: false, retryInMs: delay });
          }
          await sleep(delay, life.signal);
          break;
        }
      }
    }
  }

  run().catch((error: unknown) => {
    // Defensive: connectOnce handles its own failures; never leave `done` pending.
    life.fail(asError(error), "stream", "retriesExhausted");
  });

  return life.handle;
}

/** An event together with its metadata, as yielded by {@link streamEvents}. */
export interface ReceivedEvent {
  event: WeftEvent;
  meta: EventMeta;
}

/** Options of {@link streamEvents}: those of {@link subscribeEvents} without `onEvent`. */
export type StreamEventsOptions = Omit<SubscribeOptions, "onEvent">;

/**
 * An async-iterable event stream. Iteration ends when the subscription stops;
 * it throws the error if it stopped because of a fatal error or exhausted
 * retries. Breaking out of a `for await` loop closes the subscription.
 */
export interface EventStream extends AsyncIterable<ReceivedEvent> {
  /** Returns the next event, or `done: true` once the subscription has stopped. */
  next(): Promise<IteratorResult<ReceivedEvent, undefined>>;
  /** Closes the subscription and ends iteration. */
  return(): Promise<IteratorResult<ReceivedEvent, undefined>>;
  /** Closes the subscription (same as `return()`, without waiting). */
  close(): void;
  /** The underlying subscription. */
  readonly subscription: EventSubscription;
  [Symbol.asyncIterator](): EventStream;
}

/**
 * Async-iterator flavour of {@link subscribeEvents}. Events received while
 * the consumer is busy are buffered (without limit) in arrival order.
 *
 * @example
 * ```ts
 * const stream = streamEvents({ baseUrl, getAccessToken });
 * for await (const { event } of stream) {
 *   if (event.type === "session.revoked") break; // closes the stream
 * }
 * ```
 */
export function streamEvents(options: StreamEventsOptions): EventStream {
  const queue: ReceivedEvent[] = [];
  const waiters: Array<{
    resolve: (result: IteratorResult<ReceivedEvent, undefined>) => void;
    reject: (error: unknown) => void;
  }> = [];
  let end: SubscriptionEnd | undefined;
  let errorDelivered = false;

  const settleWaiters = (): void => {
    while (waiters.length > 0) {
      const waiter = waiters.shift();
      if (waiter === undefined) break;
      if (end !== undefined && "error" in end && !errorDelivered) {
        errorDelivered = true;
        waiter.reject(end.error);
      } else {
        waiter.resolve({ done: true, value: undefined });
      }
    }
  };

  const subscription = subscribeEvents({
    ...options,
    onEvent: (event, meta) => {
      const waiter = waiters.shift();
      if (waiter !== undefined) waiter.resolve({ done: false, value: { event, meta } });
      else queue.push({ event, meta });
    },
    onClose: (reason) => {
      end = reason;
      settleWaiters();
      options.onClose?.(reason);
    },
  });

  const stream: EventStream = {
    subscription,
    next() {
      const item = queue.shift();
      if (item !== undefined) return Promise.resolve({ done: false, value: item });
      if (end !== undefined) {
        if ("error" in end && !errorDelivered) {
          errorDelivered = true;
          return Promise.reject(end.error);
        }
        return Promise.resolve({ done: true, value: undefined });
      }
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    return() {
      queue.length = 0;
      errorDelivered = true;
      subscription.close();
      settleWaiters();
      return Promise.resolve({ done: true, value: undefined });
    },
    close() {
      void stream.return();
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}

// ---------------------------------------------------------------------------
// Server-Sent Events: the browser's EventSource, with stream tickets
// ---------------------------------------------------------------------------

/**
 * Every event `type` the server sends; each is also the event's SSE `event:`
 * name, so an `EventSource` needs a listener per name (its `onmessage` only
 * sees frames without a name). The bindings do not compile when `WeftEvent`
 * gains a type missing here.
 */
export const WEFT_EVENT_TYPES = [
  "heartbeat",
  "resync",
  "session.created",
  "session.revoked",
  "user.roleChanged",
  "notification.created",
  "approval.requested",
  "run.started",
  "run.waiting",
  "run.succeeded",
  "run.failed",
  "run.cancelled",
  "node.started",
  "node.succeeded",
  "node.failed",
  "node.retrying",
  "node.token",
  "collab.joined",
  "collab.left",
  "collab.cursor",
  "workflow.patched",
  "workflow.saved",
  "comment.created",
  "comment.resolved",
] as const satisfies readonly WeftEvent["type"][];

/** Fails to compile when `WeftEvent` has a type that {@link WEFT_EVENT_TYPES} lacks. */
type EventTypesComplete<Missing extends never> = Missing;
export type MissingEventTypes = EventTypesComplete<Exclude<WeftEvent["type"], (typeof WEFT_EVENT_TYPES)[number]>>;

/** What the helper reads from the events an `EventSource` dispatches. */
export interface EventSourceEvent {
  readonly type: string;
  readonly data?: unknown;
  readonly lastEventId?: string;
}

/** The part of the browser's `EventSource` that {@link openTicketedEventSource} uses. */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: EventSourceEvent) => void): void;
  close(): void;
}

/** A constructor like the browser's `EventSource` (or the `eventsource` npm package's). */
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

/** What {@link openTicketedEventSource} needs of a client; the generated `createClient(...)` fits. */
export interface TicketClient {
  readonly rpc: { readonly options: { readonly baseUrl: string } };
  readonly auth: { streamTicket(params: EmptyParams, options?: CallOptions): Promise<StreamTicket> };
}

/** Options of {@link openTicketedEventSource}. */
export interface TicketedEventSourceOptions extends StreamListenerOptions {
  /** The `EventSource` constructor. Default: `globalThis.EventSource`. */
  EventSource?: EventSourceConstructor;
  /** The event names to listen to. Default: {@link WEFT_EVENT_TYPES}. */
  eventTypes?: readonly string[];
  /** Passed to `EventSource` (send cookies cross-origin). Default `false`. */
  withCredentials?: boolean;
  /** Server base URL. Default: the client's (`client.rpc.options.baseUrl`). */
  baseUrl?: string;
  /** Path of the event stream below the base URL. Default `"/events"`. */
  path?: string;
}

/**
 * Follows the server's events with an `EventSource` (the browser's, by
 * default), which cannot send an `Authorization` header: each connection
 * opens `GET /events?ticket=…` with a fresh single-use ticket from
 * `auth.streamTicket` (so the client's token refresh applies), and every
 * reconnection — after an error, a dropped connection or the idle timeout —
 * fetches a new ticket and resumes with `&lastEventId=<last id seen>`, so the
 * server replays what was missed (or sends `resync`). The `EventSource`'s own
 * reconnection, which would reuse the spent ticket, is never used: it is
 * closed at its first error and reopened after a backoff.
 *
 * Listens to every event name of {@link WEFT_EVENT_TYPES} (the server names
 * each event by its type) and to unnamed messages.
 *
 * Stops on `close()`, the signal, a refused ticket (the client could not
 * refresh its token: `UNAUTHENTICATED`), HTTP 400/403/404 when the
 * `EventSource` reports statuses (the `eventsource` package does; browsers
 * do not), or when `reconnect.maxAttempts` is reached.
 *
 * @example
 * ```ts
 * const client = createClient({ baseUrl, getAccessToken, refreshAccessToken });
 * const sub = openTicketedEventSource(client, {
 *   topics: [`workflow:${id}`],
 *   onEvent: (event) => { if (event.type === "resync") refetch(); },
 * });
 * // later
 * sub.close();
 * ```
 */
export function openTicketedEventSource(client: TicketClient, options: TicketedEventSourceOptions): EventSubscription {
  const EventSourceImpl: EventSourceConstructor | undefined =
    options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (EventSourceImpl === undefined) {
    throw new TypeError("No EventSource available: pass an `EventSource` constructor in the options");
  }
  const Impl: EventSourceConstructor = EventSourceImpl;
  const base = joinUrl(options.baseUrl ?? client.rpc.options.baseUrl, options.path ?? "/events");
  const topics =
    options.topics !== undefined && options.topics.length > 0
      ? `&topics=${options.topics.map(encodeURIComponent).join(",")}`
      : "";
  const eventTypes = options.eventTypes ?? WEFT_EVENT_TYPES;
  const idleTimeoutMs = nonNegative(options.idleTimeoutMs, 0);
  let source: EventSourceLike | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  const life = lifecycle(options, () => {
    clearTimeout(timer);
    source?.close();
    source = undefined;
  });

  const retry = (error: Error, phase: "connect" | "stream", minDelayMs?: number): void => {
    const delay = life.delay(attempt, undefined, minDelayMs);
    if (delay === undefined) {
      life.fail(error, phase, "retriesExhausted");
      return;
    }
    attempt += 1;
    life.state = "reconnecting";
    life.report(error, { phase, fatal: false, retryInMs: delay });
    timer = setTimeout(start, delay);
  };

  async function connect(): Promise<void> {
    let ticket: string;
    try {
      ticket = (await client.auth.streamTicket({}, { signal: life.signal })).ticket;
    } catch (error) {
      if (life.ended) return;
      if (error instanceof RpcError && !error.isRateLimited() && !error.isInternal()) {
        life.fail(error, "connect");
      } else {
        const retryAfter = error instanceof RpcError ? error.retryAfterSeconds : undefined;
        retry(asError(error), "connect", retryAfter === undefined ? undefined : retryAfter * 1000);
      }
      return;
    }
    if (life.ended) return;
    const resume = life.lastEventId !== "" ? `&lastEventId=${encodeURIComponent(life.lastEventId)}` : "";
    const url = `${base}${base.includes("?") ? "&" : "?"}ticket=${encodeURIComponent(ticket)}${topics}${resume}`;
    const es = new Impl(url, options.withCredentials === true ? { withCredentials: true } : undefined);
    source = es;
    let opened = false;
    let received = false;
    const current = (): boolean => source === es && !life.ended;
    const drop = (error: Error, phase: "connect" | "stream"): void => {
      es.close();
      source = undefined;
      clearTimeout(timer);
      if (received) attempt = 0;
      retry(error, phase);
    };
    const armIdle = (): void => {
      if (idleTimeoutMs <= 0) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (current()) drop(new TransportError("timeout", `event stream idle for ${idleTimeoutMs} ms`), "stream");
      }, Math.min(idleTimeoutMs, MAX_TIMER_MS));
    };
    es.addEventListener("open", () => {
      if (!current()) return;
      opened = true;
      armIdle();
      life.opened();
    });
    es.addEventListener("error", (event) => {
      if (!current()) return;
      const code = (event as { code?: unknown }).code;
      const status = typeof code === "number" && code > 0 ? code : undefined;
      if (status === 400 || status === 403 || status === 404) {
        es.close();
        source = undefined;
        life.fail(new TransportError("http", `event stream: unexpected HTTP status ${status}`, { status }), "connect");
        return;
      }
      const message = opened ? "event stream interrupted" : "event stream connection failed";
      drop(
        new TransportError("network", status === undefined ? message : `${message} (HTTP ${status})`, definedOnly({ status })),
        opened ? "stream" : "connect",
      );
    });
    const onMessage = (event: EventSourceEvent): void => {
      if (!current()) return;
      received = true;
      armIdle();
      // A frame without `id:` carries the previous id; a new EventSource starts with none.
      life.deliver(String(event.data), event.type, event.lastEventId || life.lastEventId);
    };
    for (const type of eventTypes) es.addEventListener(type, onMessage);
    es.addEventListener("message", onMessage);
  }

  function start(): void {
    if (life.ended) return;
    connect().catch((error: unknown) => life.fail(asError(error), "connect", "retriesExhausted"));
  }

  queueMicrotask(start);
  return life.handle;
}


// ---------------------------------------------------------------------------
// Helpers (not exported)
// ---------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isValidationIssue(value: unknown): value is ValidationIssue {
  return (
    isRecord(value) &&
    typeof value["path"] === "string" &&
    typeof value["code"] === "string" &&
    typeof value["message"] === "string"
  );
}

function isErrorObject(value: unknown): value is JsonRpcErrorObject {
  return isRecord(value) && typeof value["code"] === "number" && typeof value["message"] === "string";
}

function isJsonRpcId(value: unknown): value is JsonRpcId {
  return value === null || typeof value === "number" || typeof value === "string";
}

/** Validates one JSON-RPC response object; `undefined` if it is not one. */
function parseResponse(value: unknown): ParsedResponse | undefined {
  if (!isRecord(value) || value["jsonrpc"] !== "2.0") return undefined;
  const id = "id" in value ? value["id"] : null;
  if (!isJsonRpcId(id)) return undefined;
  const hasResult = "result" in value;
  const hasError = "error" in value;
  if (hasError && !hasResult && isErrorObject(value["error"])) {
    return { id, ok: false, error: value["error"] };
  }
  if (hasResult && !hasError) return { id, ok: true, result: value["result"] };
  return undefined;
}

/** Extracts an error from a full error response or a bare error object. */
function errorObjectOf(value: unknown): { id: JsonRpcId; error: JsonRpcErrorObject } | undefined {
  const response = parseResponse(value);
  if (response !== undefined) return response.ok ? undefined : { id: response.id, error: response.error };
  if (isErrorObject(value)) return { id: null, error: value };
  return undefined;
}

/** Builds the error for a non-2xx event-stream response. */
async function httpError(response: Response, what: string, signal: AbortSignal): Promise<RpcError | TransportError> {
  let text = "";
  try {
    text = await raceSignal(response.text(), signal);
  } catch {
    // Ignore: the status alone is informative enough.
  }
  if (text.trim() !== "") {
    try {
      const error = errorObjectOf(JSON.parse(text));
      if (error !== undefined) return new RpcError(error.error);
    } catch {
      // Not JSON: fall through.
    }
  }
  return new TransportError("http", `${what}: unexpected HTTP status ${response.status}`, {
    status: response.status,
    body: text,
  });
}

/** Minimum retry delay from a `Retry-After` header or a rate-limit error, in ms. */
function retryAfterMs(response: Response, error: RpcError | TransportError): number | undefined {
  const header = response.headers.get("retry-after");
  if (header !== null) {
    const seconds = Number(header.trim());
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  if (error instanceof RpcError && error.retryAfterSeconds !== undefined) return error.retryAfterSeconds * 1000;
  return undefined;
}

function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
}

function mergeHeaders(base: HeadersInit | undefined, extra: HeadersInit | undefined): Headers {
  const headers = new Headers(base);
  if (extra !== undefined) new Headers(extra).forEach((value, key) => headers.set(key, value));
  return headers;
}

function resolveFetch(custom: FetchLike | undefined): FetchLike {
  if (custom !== undefined) return custom;
  if (typeof globalThis.fetch !== "function") {
    throw new TypeError("No global fetch available: pass a `fetch` implementation in the options");
  }
  // Call through globalThis: browsers reject a detached `fetch` ("Illegal invocation").
  return (input, init) => globalThis.fetch(input, init);
}

async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing useful to do.
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Settles like `value`, or rejects with `signal.reason` as soon as `signal`
 * aborts (whether or not whatever produces `value` honours the signal).
 */
function raceSignal<T>(value: T | PromiseLike<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.resolve(value).then(
      (result) => {
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Re-throws asynchronously, like an exception in a DOM event listener. */
function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The length of `text` in UTF-8 bytes. */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) bytes += code < 0x800 || (code >= 0xd800 && code < 0xe000) ? 1 : 2;
  }
  return bytes;
}

function nonNegative(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause: unknown = error.cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Drops properties whose value is `undefined`, so spreading keeps defaults. */
function definedOnly<T extends object>(value: T): Partial<T> {
  const result: Partial<T> = {};
  for (const key of Object.keys(value) as Array<keyof T>) {
    if (value[key] !== undefined) result[key] = value[key];
  }
  return result;
}
