// Follows a run live with the generated TypeScript client: subscribe to a workflow's topic,
// start a run whose steps take a moment (two durable timers), print every event as it
// arrives, drop the connection half-way and resume from the last event id without losing
// or repeating anything.
//
//   (cd bindings && npm ci && npm run build)     # once: builds bindings/dist
//   node examples/follow_run.mjs                  # server at http://127.0.0.1:8080
//   WEFT_URL=http://127.0.0.1:18181 node examples/follow_run.mjs
//
// Exits non-zero at the first answer that is not what it should be.
import { randomUUID } from "node:crypto";
import { createClient, subscribeEvents } from "../bindings/dist/src/index.js";

const baseUrl = process.env.WEFT_URL ?? "http://127.0.0.1:8080";
const fail = (message) => {
  console.error(`FAIL: ${message}`);
  process.exit(1);
};
const step = (text) => console.log(`\n==> ${text}`);

let accessToken;
const client = createClient({ baseUrl, getAccessToken: () => accessToken, timeoutMs: 15_000 });

step("an account, a project and a workflow: start -> wait 400 ms -> shape -> wait 400 ms -> done");
const session = await client.auth.register({
  email: `live-${randomUUID().slice(0, 12)}@example.com`,
  password: "violet-Tangerine-88-harbour",
  displayName: "Watcher",
});
accessToken = session.accessToken;
const project = await client.project.create({ name: "Live runs" });
const node = (id, type, config, x) => ({ id, name: id, type, position: { x, y: 0 }, config });
const edge = (source, target) => ({ source, sourcePort: "out", target, targetPort: "in" });
const { workflow } = await client.workflow.create({
  projectId: project.id,
  name: "Slow greeting",
  graph: {
    nodes: [
      node("start", "start", {}, 0),
      node("pause", "delay", { durationMs: 400 }, 200),
      node("shape", "transform", { output: "Hello, {{ input.name }}" }, 400),
      node("again", "delay", { durationMs: 400 }, 600),
      node("done", "end", {}, 800),
    ],
    edges: [edge("start", "pause"), edge("pause", "shape"), edge("shape", "again"), edge("again", "done")],
  },
});

/** Subscribes to the workflow's topic; resolves `ready` at the first heartbeat. */
function follow(label, lastEventId, onEvent) {
  let ready;
  const readyPromise = new Promise((resolve) => (ready = resolve));
  const subscription = subscribeEvents({
    baseUrl,
    topics: [`workflow:${workflow.id}`],
    lastEventId,
    getAccessToken: () => accessToken,
    onEvent: (event, meta) => {
      if (event.type === "heartbeat") return ready();
      const where = event.nodeId ? ` ${event.nodeId}` : "";
      console.log(`  [${label}] #${meta.id ?? "-"} ${event.type}${where}`);
      onEvent(event, meta);
    },
    onError: (error, info) => console.warn(`  [${label}] ${info.phase}: ${error.message}`),
  });
  return { subscription, ready: readyPromise };
}

step("subscribe to workflow:<id> and start a run (not waiting for it)");
const seen = [];
let firstConnection = follow("first connection", undefined, (event, meta) => seen.push({ event, meta }));
await firstConnection.ready;
const started = await client.workflow.execute({ workflowId: workflow.id, version: 1, input: { name: "Ada" } });
const runId = started.run.id;
console.log(`  run ${runId} started`);

step("drop the connection after the first node finished");
const deadline = Date.now() + 15_000;
while (!seen.some(({ event }) => event.type === "node.succeeded" && event.nodeId === "start")) {
  if (Date.now() > deadline) fail("no node.succeeded for start within 15 s");
  await new Promise((resolve) => setTimeout(resolve, 20));
}
firstConnection.subscription.close();
const lastEventId = firstConnection.subscription.lastEventId;
console.log(`  closed at event #${lastEventId}; the run goes on meanwhile`);
await new Promise((resolve) => setTimeout(resolve, 300));

step("resume from that id: the missed events first, then the rest live");
const finished = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("the run did not finish within 15 s")), 15_000);
  const resumed = follow("resumed", lastEventId, (event, meta) => {
    seen.push({ event, meta });
    if (event.type === "run.succeeded" || event.type === "run.failed") {
      clearTimeout(timer);
      resumed.subscription.close();
      resolve(event);
    }
  });
});
const end = await finished.catch((error) => fail(error.message));
if (end.type !== "run.succeeded") fail(`the run ended with ${end.type}`);

const ids = seen.filter(({ meta }) => meta.id !== undefined).map(({ meta }) => Number(meta.id));
if (new Set(ids).size !== ids.length) fail(`an event arrived twice: ${ids.join(",")}`);
if (ids.some((id, i) => i > 0 && id <= ids[i - 1])) fail(`ids out of order: ${ids.join(",")}`);
const nodes = seen.filter(({ event }) => event.type === "node.succeeded").map(({ event }) => event.nodeId);
if (nodes.join(",") !== "start,pause,shape,again,done") fail(`node order: ${nodes.join(",")}`);

const detail = await client.run.get({ runId });
console.log(`\nrun ${detail.run.status}: ${JSON.stringify(detail.run.output)}`);
console.log(`${ids.length} events, each once and in order, across a dropped connection.`);
