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
 *   (single calls, notifications and batches);
 * - {@link RpcError} / {@link TransportError}: the two failure types every
 *   call can reject with;
 * - {@link subscribeEvents} / {@link streamEvents}: a fetch-based Server-Sent
 *   Events client for `GET /events` that can send an `Authorization` header
 *   (which the browser's native `EventSource` cannot) and reconnects with
 *   capped exponential backoff;
 * - {@link SseParser}: the spec-compliant SSE wire-format parser underneath.
 *
 * @packageDocumentation
 */

import type { ErrorData, WeftEvent } from "./types.js";

// ---------------------------------------------------------------------------
// Error codes and errors
// ---------------------------------------------------------------------------

/** Numeric JSON-RPC error codes used by the Weft server. */
export const ErrorCodes = {
  /** Invalid JSON was received by the server. */
  PARSE_ERROR: -32700,
  /** The JSON sent is not a valid JSON-RPC request object. */
  INVALID_REQUEST: -32600,
  /** The method does not exist. */
  METHOD_NOT_FOUND: -32601,
  /** Invalid method parameters (shape or type). */
  INVALID_PARAMS: -32602,
  /** Internal server error; `data.correlationId` identifies it in server logs. */
  INTERNAL_ERROR: -32603,
  /** Missing, invalid or expired credentials; see `data.reason`. */
  UNAUTHENTICATED: -32001,
  /** Authenticated but not allowed; see `data.requiredRole`. */
  FORBIDDEN: -32003,
  /** The addressed resource does not exist; see `data.resource`. */
  NOT_FOUND: -32004,
  /** The request conflicts with the current state; see `data.detail`. */
  CONFLICT: -32009,
  /** The request body or batch was too large; see `data.limit` and `data.what`. */
  PAYLOAD_TOO_LARGE: -32013,
  /** One or more fields failed validation; see `data.fields`. */
  VALIDATION: -32022,
  /** Too many requests; see `data.retryAfterSeconds`. */
  RATE_LIMITED: -32029,
  /** An AI call could exceed a spending budget and was refused before any spend; see `data.reason`. */
  BUDGET_EXCEEDED: -32042,
  /** An outside service (an AI provider) failed or is not configured; see `data.service`, `data.failure`. */
  UPSTREAM: -32052,
} as const;

/** One of the values of {@link ErrorCodes}. */
export type RpcErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

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
    return this.code === ErrorCodes.INTERNAL_ERROR;
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
 * refreshed tokens.
 */
export type AccessTokenProvider = () =>
  | string
  | undefined
  | null
  | Promise<string | undefined | null>;

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
  /** Extra headers sent with every request. */
  headers?: HeadersInit;
}

/** Options of {@link RpcTransport} (and of the generated `createClient`). */
export interface ClientOptions extends ConnectionOptions {
  /**
   * Per-request timeout in milliseconds, covering sending the request and
   * reading the whole response. `0` disables it. Default: `30000`.
   */
  timeoutMs?: number;
}

/** Per-call options of {@link RpcTransport.call}, `notify` and `batch`. */
export interface CallOptions {
  /** Aborts the request; the call then rejects with a `TransportError` of kind `"aborted"`. */
  signal?: AbortSignal;
  /** Overrides {@link ClientOptions.timeoutMs} for this request. */
  timeoutMs?: number;
  /** Extra headers for this request only. */
  headers?: HeadersInit;
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

interface JsonRpcRequest {
  jsonrpc: "2.0";
  method: string;
  params: unknown;
  id?: number;
}

type ParsedResponse =
  | { id: JsonRpcId; ok: true; result: unknown }
  | { id: JsonRpcId; ok: false; error: JsonRpcErrorObject };

/**
 * Typed JSON-RPC 2.0 client over `POST {baseUrl}/rpc`.
 *
 * `P` is the procedure map (the generated `Procedures` interface), mapping
 * each method name to its `params` and `result` types.
 *
 * Every method rejects with {@link RpcError} when the server answers with a
 * JSON-RPC error, and with {@link TransportError} for everything else.
 */
export class RpcTransport<P extends ProcedureMap<P>> {
  readonly #options: Readonly<ClientOptions>;
  readonly #url: string;
  #nextId = 1;

  constructor(options: ClientOptions) {
    if (typeof options.baseUrl !== "string" || options.baseUrl === "") {
      throw new TypeError("RpcTransport: options.baseUrl is required");
    }
    this.#options = { ...options };
    this.#url = joinUrl(options.baseUrl, "/rpc");
  }

  /** The options this transport was created with. */
  get options(): Readonly<ClientOptions> {
    return this.#options;
  }

  /**
   * Calls `method` and resolves with its result.
   *
   * @throws {@link RpcError} when the server answers with an error object.
   * @throws {@link TransportError} on network/HTTP/protocol failures.
   */
  async call<M extends MethodOf<P>>(
    method: M,
    params: P[M]["params"],
    options?: CallOptions,
  ): Promise<P[M]["result"]> {
    const id = this.#nextId++;
    const request: JsonRpcRequest = { jsonrpc: "2.0", method, params, id };
    const body = await this.#post(request, options);
    if (body === undefined) {
      throw new TransportError("invalid-response", `${method}: server sent no response (HTTP 204) to a call`, {
        status: 204,
      });
    }
    const response = parseResponse(body);
    if (response === undefined) {
      throw new TransportError("invalid-response", `${method}: response is not a JSON-RPC response object`, {
        body: safeStringify(body),
      });
    }
    if (!response.ok && (response.id === id || response.id === null)) {
      throw new RpcError(response.error, { method, requestId: id });
    }
    if (response.id !== id) {
      throw new TransportError(
        "invalid-response",
        `${method}: response id ${JSON.stringify(response.id)} does not match request id ${id}`,
      );
    }
    if (!response.ok) throw new RpcError(response.error, { method, requestId: id });
    return response.result as P[M]["result"];
  }

  /**
   * Sends `method` as a notification (no id): the server runs it but sends no
   * result. Resolves once the server has accepted the request.
   *
   * @throws {@link RpcError} if the server rejects the request as a whole
   *   (e.g. payload too large).
   * @throws {@link TransportError} on network/HTTP failures.
   */
  async notify<M extends MethodOf<P>>(method: M, params: P[M]["params"], options?: CallOptions): Promise<void> {
    const request: JsonRpcRequest = { jsonrpc: "2.0", method, params };
    const body = await this.#post(request, options);
    if (body === undefined) return;
    // A conforming server answers notifications with 204; tolerate a body but
    // surface a request-level error if that is what it contains.
    const response = parseResponse(body);
    if (response !== undefined && !response.ok && response.id === null) {
      throw new RpcError(response.error, { method, requestId: null });
    }
  }

  /**
   * Sends several calls in one JSON-RPC batch and resolves with one settled
   * result per call, in request order (responses are matched by id, not by
   * position). A failed call does not fail the batch.
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
   *   including a missing response for one of the calls.
   */
  async batch<const B extends readonly BatchCall<P>[]>(calls: B, options?: CallOptions): Promise<BatchResults<P, B>> {
    if (calls.length === 0) return [] as unknown as BatchResults<P, B>;
    const entries = calls.map((entry) => {
      const [method, params] = entry as readonly [string, unknown];
      return { jsonrpc: "2.0", method, params, id: this.#nextId++ } satisfies JsonRpcRequest;
    });
    const body = await this.#post(entries, options);
    if (body === undefined) {
      throw new TransportError("invalid-response", "batch: server sent no response (HTTP 204)", { status: 204 });
    }
    if (!Array.isArray(body)) {
      const response = parseResponse(body);
      if (response !== undefined && !response.ok) throw new RpcError(response.error, { requestId: response.id });
      throw new TransportError("invalid-response", "batch: response is not an array", { body: safeStringify(body) });
    }
    const byId = new Map<JsonRpcId, ParsedResponse>();
    for (const item of body) {
      const response = parseResponse(item);
      if (response === undefined) {
        throw new TransportError("invalid-response", "batch: invalid JSON-RPC response in batch", {
          body: safeStringify(item),
        });
      }
      byId.set(response.id, response);
    }
    const results = entries.map((entry) => {
      const response = byId.get(entry.id);
      if (response === undefined) {
        throw new TransportError("invalid-response", `batch: no response for ${entry.method} (id ${entry.id})`);
      }
      return response.ok
        ? { ok: true as const, value: response.result }
        : { ok: false as const, error: new RpcError(response.error, { method: entry.method, requestId: entry.id }) };
    });
    return results as unknown as BatchResults<P, B>;
  }

  /**
   * Opens the server's event stream using this transport's connection
   * options (base URL, fetch, token provider, headers). See
   * {@link subscribeEvents}.
   */
  subscribeEvents(options: Omit<SubscribeOptions, keyof ConnectionOptions> & Partial<ConnectionOptions>): EventSubscription {
    return subscribeEvents({ ...this.#connection(), ...definedOnly(options) } as SubscribeOptions);
  }

  /**
   * Opens the server's event stream as an async iterator using this
   * transport's connection options. See {@link streamEvents}.
   */
  streamEvents(options: Omit<StreamEventsOptions, keyof ConnectionOptions> & Partial<ConnectionOptions> = {}): EventStream {
    return streamEvents({ ...this.#connection(), ...definedOnly(options) } as StreamEventsOptions);
  }

  #connection(): ConnectionOptions {
    const { baseUrl, fetch, getAccessToken, headers } = this.#options;
    const connection: ConnectionOptions = { baseUrl };
    if (fetch !== undefined) connection.fetch = fetch;
    if (getAccessToken !== undefined) connection.getAccessToken = getAccessToken;
    if (headers !== undefined) connection.headers = headers;
    return connection;
  }

  /**
   * POSTs `payload` and returns the parsed JSON body, or `undefined` for
   * HTTP 204. Throws RpcError for non-2xx statuses carrying a JSON-RPC error.
   */
  async #post(payload: unknown, options: CallOptions | undefined): Promise<unknown> {
    const external = options?.signal;
    if (external?.aborted) {
      throw new TransportError("aborted", "request aborted before it was sent", { cause: external.reason });
    }
    const headers = mergeHeaders(this.#options.headers, options?.headers);
    headers.set("content-type", "application/json");
    headers.set("accept", "application/json");
    const token = await this.#options.getAccessToken?.();
    if (token) headers.set("authorization", `Bearer ${token}`);
    const body = JSON.stringify(payload);

    const controller = new AbortController();
    const timeoutMs = options?.timeoutMs ?? this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs)
        : undefined;
    const onAbort = (): void => controller.abort();
    external?.addEventListener("abort", onAbort, { once: true });

    const fail = (error: unknown, what: string): TransportError => {
      if (timedOut) return new TransportError("timeout", `request timed out after ${timeoutMs} ms`, { cause: error });
      if (external?.aborted) return new TransportError("aborted", "request aborted", { cause: external.reason });
      return new TransportError("network", `${what}: ${errorMessage(error)}`, { cause: error });
    };

    try {
      let response: Response;
      try {
        response = await resolveFetch(this.#options.fetch)(this.#url, {
          method: "POST",
          headers,
          body,
          signal: controller.signal,
        });
      } catch (error) {
        throw fail(error, "request failed");
      }
      const status = response.status;
      if (status === 204) {
        await discardBody(response);
        if (timedOut || external?.aborted) throw fail(undefined, "request aborted");
        return undefined;
      }
      let text: string;
      try {
        text = await response.text();
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
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      external?.removeEventListener("abort", onAbort);
    }
  }
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
   * A non-retryable failure: HTTP 401/403 (the token is missing, invalid,
   * expired or its session was revoked), another 4xx, or a response that is
   * not an event stream.
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

/** Options of {@link subscribeEvents}. */
export interface SubscribeOptions extends ConnectionOptions {
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
  /** Called each time a connection is established (status 200, event stream). */
  onOpen?: () => void;
  /**
   * Called for every error: connection failures (followed by a reconnection
   * unless `info.fatal`), malformed events (skipped) and exceptions thrown by
   * `onEvent`. Without `onError`, exceptions thrown by `onEvent` are re-thrown
   * asynchronously (like exceptions in DOM event listeners).
   */
  onError?: (error: Error, info: SubscriptionErrorInfo) => void;
  /** Called once when the subscription stops for good. */
  onClose?: (end: SubscriptionEnd) => void;
  /** Stops the subscription when it fires. */
  signal?: AbortSignal;
  /** Initial `Last-Event-ID` to send (e.g. persisted from a previous page load). */
  lastEventId?: string;
  /** Reconnection policy, or `false` to never reconnect. */
  reconnect?: ReconnectOptions | false;
  /**
   * Reconnect when no bytes (events, heartbeats or comments) arrive for this
   * many ms, to detect dead connections. `0` disables it. Default `0`; set it
   * comfortably above the server's heartbeat interval.
   */
  idleTimeoutMs?: number;
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
  | { kind: "retry"; error?: Error; phase: "connect" | "stream"; receivedEvents: boolean; minDelayMs?: number };

/**
 * Subscribes to the server's event stream (`GET {baseUrl}/events`) using
 * `fetch`, so it can authenticate with `Authorization: Bearer <token>` from
 * `getAccessToken` (fetched anew for each connection).
 *
 * Reconnects after network errors, HTTP 408/429/5xx and clean closes by the
 * server, with capped exponential backoff and jitter, sending
 * `Last-Event-ID` when an id has been seen. Stops without reconnecting on
 * HTTP 401/403 (and other 4xx), reporting through `onError` and `done`.
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
  const policy = options.reconnect === false ? undefined : options.reconnect ?? {};
  const initialDelayMs = nonNegative(policy?.initialDelayMs, 1000);
  const maxDelayMs = nonNegative(policy?.maxDelayMs, 30_000);
  const multiplier = Math.max(1, policy?.multiplier ?? 2);
  const jitter = Math.min(1, Math.max(0, policy?.jitter ?? 0.5));
  const maxAttempts = policy?.maxAttempts ?? Number.POSITIVE_INFINITY;
  const idleTimeoutMs = nonNegative(options.idleTimeoutMs, 0);

  const master = new AbortController();
  let state: SubscriptionState = "connecting";
  let lastEventId = options.lastEventId ?? "";
  let baseDelayMs = initialDelayMs;
  let ended = false;
  let resolveDone: (end: SubscriptionEnd) => void = () => {};
  const done = new Promise<SubscriptionEnd>((resolve) => {
    resolveDone = resolve;
  });

  const rethrowLater = (error: unknown): void => {
    queueMicrotask(() => {
      throw error;
    });
  };

  const report = (error: Error, info: SubscriptionErrorInfo): void => {
    if (options.onError === undefined) {
      if (info.phase === "handler") rethrowLater(error);
      return;
    }
    try {
      options.onError(error, info);
    } catch (thrown) {
      rethrowLater(thrown);
    }
  };

  const onExternalAbort = (): void => finish({ reason: "aborted" });

  function finish(end: SubscriptionEnd): void {
    if (ended) return;
    ended = true;
    state = "closed";
    master.abort();
    options.signal?.removeEventListener("abort", onExternalAbort);
    resolveDone(end);
    if (options.onClose !== undefined) {
      try {
        options.onClose(end);
      } catch (thrown) {
        rethrowLater(thrown);
      }
    }
  }

  const deliver = (message: SseMessage): void => {
    lastEventId = message.lastEventId;
    let payload: unknown;
    try {
      payload = JSON.parse(message.data);
    } catch (error) {
      report(new TransportError("invalid-response", `event data is not JSON: ${errorMessage(error)}`, {
        body: message.data,
        cause: error,
      }), { phase: "event", fatal: false });
      return;
    }
    if (!isRecord(payload) || typeof payload["type"] !== "string") {
      report(new TransportError("invalid-response", "event data is not an object with a string `type`", {
        body: message.data,
      }), { phase: "event", fatal: false });
      return;
    }
    const event = payload as unknown as WeftEvent;
    const meta: EventMeta = { type: message.event !== "" ? message.event : payload["type"] };
    if (message.lastEventId !== "") meta.id = message.lastEventId;
    try {
      options.onEvent(event, meta);
    } catch (error) {
      report(error instanceof Error ? error : new Error(String(error)), { phase: "handler", fatal: false });
    }
  };

  async function connectOnce(): Promise<ConnectOutcome> {
    const connection = new AbortController();
    const onMasterAbort = (): void => connection.abort();
    master.signal.addEventListener("abort", onMasterAbort, { once: true });
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let idleFired = false;
    let receivedEvents = false;
    const armIdle = (): void => {
      if (idleTimeoutMs <= 0) return;
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idleFired = true;
        connection.abort();
      }, idleTimeoutMs);
    };

    try {
      let token: string | undefined | null;
      try {
        token = await options.getAccessToken?.();
      } catch (error) {
        return {
          kind: "retry",
          phase: "connect",
          receivedEvents,
          error: error instanceof Error ? error : new Error(String(error)),
        };
      }
      if (ended) return { kind: "ended" };
      const headers = mergeHeaders(options.headers, undefined);
      headers.set("accept", "text/event-stream");
      headers.set("cache-control", "no-cache");
      if (token) headers.set("authorization", `Bearer ${token}`);
      if (lastEventId !== "") headers.set("last-event-id", lastEventId);

      let response: Response;
      try {
        response = await doFetch(url, { method: "GET", headers, signal: connection.signal });
      } catch (error) {
        if (ended) return { kind: "ended" };
        return {
          kind: "retry",
          phase: "connect",
          receivedEvents,
          error: new TransportError("network", `event stream connection failed: ${errorMessage(error)}`, {
            cause: error,
          }),
        };
      }
      if (ended) {
        await discardBody(response);
        return { kind: "ended" };
      }

      const status = response.status;
      if (status === 204) {
        await discardBody(response);
        return { kind: "noContent" };
      }
      if (!response.ok) {
        const error = await httpError(response, "event stream");
        const retryable = status === 408 || status === 429 || status >= 500;
        if (!retryable) return { kind: "fatal", phase: "connect", error };
        const outcome: ConnectOutcome = { kind: "retry", phase: "connect", receivedEvents, error };
        const retryAfter = retryAfterMs(response, error);
        if (retryAfter !== undefined) outcome.minDelayMs = retryAfter;
        return outcome;
      }
      const contentType = (response.headers.get("content-type") ?? "").toLowerCase();
      if (!contentType.startsWith("text/event-stream") || response.body === null) {
        await discardBody(response);
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

      state = "open";
      if (options.onOpen !== undefined) {
        try {
          options.onOpen();
        } catch (error) {
          report(error instanceof Error ? error : new Error(String(error)), { phase: "handler", fatal: false });
        }
      }
      if (ended) return { kind: "ended" };

      const parser = new SseParser(
        {
          onMessage: (message) => {
            if (ended) return;
            receivedEvents = true;
            deliver(message);
          },
          onRetry: (ms) => {
            baseDelayMs = ms;
          },
        },
        lastEventId,
      );
      const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
      const reader = response.body.getReader();
      armIdle();
      try {
        for (;;) {
          const { done: streamDone, value } = await reader.read();
          if (streamDone || ended) break;
          armIdle();
          parser.feed(decoder.decode(value, { stream: true }));
        }
        if (ended) return { kind: "ended" };
        parser.feed(decoder.decode());
        parser.end();
        return { kind: "retry", phase: "stream", receivedEvents };
      } catch (error) {
        if (ended) return { kind: "ended" };
        const failure = idleFired
          ? new TransportError("timeout", `event stream idle for ${idleTimeoutMs} ms`, { cause: error })
          : new TransportError("network", `event stream interrupted: ${errorMessage(error)}`, { cause: error });
        return { kind: "retry", phase: "stream", receivedEvents, error: failure };
      } finally {
        reader.releaseLock();
      }
    } finally {
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      master.signal.removeEventListener("abort", onMasterAbort);
      // Releases the underlying connection whatever happened above.
      connection.abort();
    }
  }

  async function run(): Promise<void> {
    // Let the caller receive the handle before any callback fires.
    await Promise.resolve();
    let attempt = 0;
    while (!ended) {
      const outcome = await connectOnce();
      if (ended) return;
      switch (outcome.kind) {
        case "ended":
          return;
        case "noContent":
          finish({ reason: "noContent" });
          return;
        case "fatal":
          report(outcome.error, { phase: outcome.phase, fatal: true });
          finish({ reason: "fatal", error: outcome.error });
          return;
        case "retry": {
          if (outcome.receivedEvents) attempt = 0;
          if (policy === undefined) {
            if (outcome.error !== undefined) {
              report(outcome.error, { phase: outcome.phase, fatal: true });
              finish({ reason: "retriesExhausted", error: outcome.error });
            } else {
              finish({ reason: "serverClosed" });
            }
            return;
          }
          if (attempt >= maxAttempts) {
            const error = outcome.error ?? new TransportError("network", "event stream closed by the server");
            report(error, { phase: outcome.phase, fatal: true });
            finish({ reason: "retriesExhausted", error });
            return;
          }
          const exponential = Math.min(maxDelayMs, baseDelayMs * multiplier ** attempt);
          let delay = Math.round(exponential * (1 - jitter * Math.random()));
          if (outcome.minDelayMs !== undefined) delay = Math.max(delay, Math.min(outcome.minDelayMs, maxDelayMs));
          attempt += 1;
          state = "reconnecting";
          if (outcome.error !== undefined) {
            report(outcome.error, { phase: outcome.phase, fatal: false, retryInMs: delay });
          }
          await sleep(delay, master.signal);
          break;
        }
      }
    }
  }

  if (options.signal !== undefined) {
    if (options.signal.aborted) {
      queueMicrotask(onExternalAbort);
    } else {
      options.signal.addEventListener("abort", onExternalAbort, { once: true });
    }
  }

  run().catch((error: unknown) => {
    // Defensive: connectOnce handles its own failures; never leave `done` pending.
    const failure = error instanceof Error ? error : new Error(String(error));
    report(failure, { phase: "stream", fatal: true });
    finish({ reason: "retriesExhausted", error: failure });
  });

  return {
    close: () => finish({ reason: "closed" }),
    get state() {
      return state;
    },
    get lastEventId() {
      return lastEventId === "" ? undefined : lastEventId;
    },
    done,
  };
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
async function httpError(response: Response, what: string): Promise<RpcError | TransportError> {
  let text = "";
  try {
    text = await response.text();
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
