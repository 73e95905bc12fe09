/**
 * The page `browser.test.ts` loads in headless Chromium, from an origin other
 * than the server's (so every call and both event streams are cross-origin,
 * CORS preflights included). It drives the generated client the way an app
 * would — sign-up, a workflow, a run, both kinds of event stream, token
 * refresh — renders every event into the DOM and keeps counters in
 * `window.harness.state` for the Node side to wait on and check.
 *
 * Compiled with the rest of the package to `dist/test/browser/page.js`; its
 * import of `../../src/index.js` resolves to the built client in
 * `dist/src/`, which the test's static server serves as it is.
 */
import {
  createClient,
  openTicketedEventSource,
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
} from "../../src/index.js";

/** One event as a stream delivered it (heartbeats are only counted). */
export interface Seen {
  id: string;
  type: string;
  runId: string;
  nodeId: string;
}

export type StreamName = "fetch" | "eventSource" | "replay";

export interface StreamState {
  opens: number;
  heartbeats: number;
  errors: string[];
  ended: string | null;
}

export interface HarnessState {
  server: string;
  workflowId: string | null;
  streams: Record<StreamName, StreamState>;
  /** `refreshAccessToken` calls, and how many of them failed. */
  refreshes: number;
  refreshFailures: string[];
  authFailures: number;
  /** POST /rpc answers refusing an expired access token (seen below the client). */
  expiredRefusals: number;
  /** When the current access token expires (`AuthSession.accessTokenExpiresAt`). */
  accessTokenExpiresAt: string;
  /**
   * Every GET /events the fetch-based streams made: its `Last-Event-ID`, whether it sent
   * `Authorization`, and the answer's status (`0`: no answer, e.g. the server was down).
   */
  eventsRequests: Array<{ lastEventId: string | null; authorized: boolean; status: number }>;
  /** The URL of every native EventSource opened. */
  eventSourceUrls: string[];
  /** Background `auth.me` calls (see `startCalling`). */
  calls: { ok: number; okSinceRefresh: number; failed: string[] };
}

export interface Harness {
  readonly state: HarnessState;
  signUp(email: string, password: string): Promise<void>;
  /** A project and a workflow `start → delay delayMs → transform → end`; returns its id. */
  createWorkflow(delayMs: number): Promise<string>;
  /** Opens both streams on the workflow's topic. */
  follow(): void;
  /** Starts a run (not waiting for it); returns its id. */
  execute(): Promise<string>;
  /** A third stream (fetch) that replays the workflow's topic from the start: the server's log. */
  replay(): void;
  /** Calls `auth.me` every `everyMs` until `stopCalling()`. */
  startCalling(everyMs: number): void;
  stopCalling(): void;
  closeAll(): Promise<void>;
}

declare global {
  interface Window {
    harness?: Harness;
  }
}

const server = new URLSearchParams(location.search).get("server") ?? "";

const stream = (): StreamState => ({ opens: 0, heartbeats: 0, errors: [], ended: null });
const state: HarnessState = {
  server,
  workflowId: null,
  streams: { fetch: stream(), eventSource: stream(), replay: stream() },
  refreshes: 0,
  refreshFailures: [],
  authFailures: 0,
  expiredRefusals: 0,
  accessTokenExpiresAt: "",
  eventsRequests: [],
  eventSourceUrls: [],
  calls: { ok: 0, okSinceRefresh: 0, failed: [] },
};

const $ = (id: string): HTMLElement => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing`);
  return element;
};

function status(text: string): void {
  $("status").textContent = text;
}

/** Records what the streams send and what the server refuses, below the client. */
const recordingFetch: FetchLike = async (input, init) => {
  const url = new URL(input);
  let request: HarnessState["eventsRequests"][number] | undefined;
  if (url.pathname === "/events") {
    const headers = new Headers(init.headers);
    request = {
      lastEventId: headers.get("last-event-id"),
      authorized: (headers.get("authorization") ?? "").startsWith("Bearer "),
      status: 0,
    };
    state.eventsRequests.push(request);
  }
  const response = await fetch(input, init);
  if (request !== undefined) request.status = response.status;
  if (url.pathname === "/rpc" && response.ok) {
    const text = await response.clone().text();
    if (text.includes('"expiredToken"')) state.expiredRefusals += 1;
  }
  return response;
};

class RecordingEventSource extends EventSource {
  constructor(url: string | URL, init?: EventSourceInit) {
    super(url, init);
    state.eventSourceUrls.push(String(url));
  }
}

let session: AuthSession | undefined;
const client: WeftClient = createClient({
  baseUrl: server,
  fetch: recordingFetch,
  timeoutMs: 15_000,
  getAccessToken: () => session?.accessToken,
  refreshAccessToken: async () => {
    if (session === undefined) return null;
    state.refreshes += 1;
    try {
      session = await client.auth.refresh({ refreshToken: session.refreshToken });
      state.accessTokenExpiresAt = session.accessTokenExpiresAt;
      state.calls.okSinceRefresh = 0;
      return session.accessToken;
    } catch (error) {
      state.refreshFailures.push(String(error));
      return null;
    }
  },
  onAuthFailure: () => {
    state.authFailures += 1;
  },
});

function render(name: StreamName, event: WeftEvent, meta: EventMeta): void {
  if (event.type === "heartbeat") {
    state.streams[name].heartbeats += 1;
    return;
  }
  const item = document.createElement("li");
  item.dataset["id"] = meta.id ?? "";
  item.dataset["type"] = event.type;
  item.dataset["runId"] = "runId" in event ? String(event.runId) : "";
  item.dataset["nodeId"] = "nodeId" in event ? String(event.nodeId) : "";
  item.textContent = `#${meta.id ?? "-"} ${event.type}${"nodeId" in event ? ` ${String(event.nodeId)}` : ""}`;
  $(`events-${name}`).append(item);
}

function listeners(name: StreamName) {
  const s = state.streams[name];
  return {
    reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
    onEvent: (event: WeftEvent, meta: EventMeta) => render(name, event, meta),
    onOpen: () => {
      s.opens += 1;
    },
    onError: (error: Error) => {
      s.errors.push(error.message);
    },
    onClose: (end: { reason: string }) => {
      s.ended = end.reason;
    },
  };
}

const subscriptions: EventSubscription[] = [];
let calling: ReturnType<typeof setInterval> | undefined;

const edge = (source: string, target: string): Graph["edges"][number] => ({
  source,
  sourcePort: "out",
  target,
  targetPort: "in",
});

const topic = (): Topic => {
  if (state.workflowId === null) throw new Error("no workflow yet");
  return `workflow:${state.workflowId}`;
};

const harness: Harness = {
  state,
  async signUp(email, password) {
    session = await client.auth.register({ email, password, displayName: "Browser Tester" });
    state.accessTokenExpiresAt = session.accessTokenExpiresAt;
    status(`signed up as ${session.user.email}`);
  },
  async createWorkflow(delayMs) {
    const project = await client.project.create({ name: "Browser test" });
    const created = await client.workflow.create({
      projectId: project.id,
      name: "Pause and greet",
      graph: {
        nodes: [
          { id: "start", name: "Start", type: "start", position: { x: 0, y: 0 }, config: {} },
          { id: "pause", name: "Pause", type: "delay", position: { x: 200, y: 0 }, config: { durationMs: delayMs } },
          {
            id: "shape",
            name: "Shape",
            type: "transform",
            position: { x: 400, y: 0 },
            config: { output: "Hello, {{ input.name }}" },
          },
          { id: "done", name: "Done", type: "end", position: { x: 600, y: 0 }, config: {} },
        ],
        edges: [edge("start", "pause"), edge("pause", "shape"), edge("shape", "done")],
      },
    });
    if (!created.validation.valid) throw new Error(`invalid graph: ${JSON.stringify(created.validation)}`);
    state.workflowId = created.workflow.id;
    status(`workflow ${created.workflow.id}`);
    return created.workflow.id;
  },
  follow() {
    const topics = [topic()];
    subscriptions.push(client.rpc.subscribeEvents({ topics, ...listeners("fetch") }));
    subscriptions.push(
      openTicketedEventSource(client, {
        topics,
        EventSource: RecordingEventSource satisfies EventSourceConstructor,
        ...listeners("eventSource"),
      }),
    );
  },
  async execute() {
    const workflowId = (state.workflowId ?? "") as WorkflowId;
    const started = await client.workflow.execute({ workflowId, version: 1, input: { name: "Ada" } });
    status(`run ${started.run.id}`);
    return started.run.id;
  },
  replay() {
    subscriptions.push(client.rpc.subscribeEvents({ topics: [topic()], lastEventId: "0", ...listeners("replay") }));
  },
  startCalling(everyMs) {
    clearInterval(calling);
    calling = setInterval(() => {
      client.auth.me({}).then(
        () => {
          state.calls.ok += 1;
          state.calls.okSinceRefresh += 1;
        },
        (error: unknown) => {
          state.calls.failed.push(String(error));
        },
      );
    }, everyMs);
  },
  stopCalling() {
    clearInterval(calling);
    calling = undefined;
  },
  async closeAll() {
    harness.stopCalling();
    for (const subscription of subscriptions) subscription.close();
    await Promise.all(subscriptions.map((s) => s.done));
  },
};

window.harness = harness;
status(server === "" ? "no ?server= in the URL" : "ready");
