// The Weft playground: sign in, browse every procedure of the server's OpenRPC document
// (`rpc.discover`), call one with a params editor, and watch live events. Plain JavaScript
// with no dependencies, served by the binary itself (no CDN); nothing leaves this origin.

const $ = (id) => document.getElementById(id);

const state = {
  accessToken: null,
  refreshToken: null,
  document: null,
  selected: null,
  drafts: new Map(),
  source: null,
  lastEventId: null,
  eventNames: [],
};

/** Calls a procedure; refreshes the access token once when it has expired. */
async function rpc(method, params, retried = false) {
  const headers = { "content-type": "application/json" };
  if (state.accessToken) headers.authorization = `Bearer ${state.accessToken}`;
  const response = await fetch("/rpc", {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await response.json();
  if (body.error && body.error.code === -32001 && state.refreshToken && !retried && method !== "auth.refresh") {
    if (await refresh()) return rpc(method, params, true);
  }
  return body;
}

async function refresh() {
  const body = await rpc("auth.refresh", { refreshToken: state.refreshToken }, true);
  if (body.result) {
    signedIn(body.result);
    return true;
  }
  signedOut();
  return false;
}

function signedIn(session) {
  state.accessToken = session.accessToken;
  state.refreshToken = session.refreshToken;
  $("signin").hidden = true;
  $("who").hidden = false;
  $("whoami").textContent = `${session.user.displayName} <${session.user.email}> (${session.user.role})`;
}

function signedOut() {
  state.accessToken = null;
  state.refreshToken = null;
  $("signin").hidden = false;
  $("who").hidden = true;
  stopWatching("Signed out.");
}

async function signIn(register) {
  const email = $("email").value.trim();
  const password = $("password").value;
  const params = register ? { email, password, displayName: email.split("@")[0] || email } : { email, password };
  const body = await rpc(register ? "auth.register" : "auth.login", params);
  if (body.result) signedIn(body.result);
  else alert(`${body.error.message}\n${JSON.stringify(body.error.data, null, 2)}`);
}

// ---------------------------------------------------------------------------
// Procedures
// ---------------------------------------------------------------------------

function accessText(method) {
  const access = method["x-weft-access"] || {};
  if (!access.authenticated) return "Public";
  return `Requires a session with role ${access.role} or higher`;
}

function renderList() {
  const filter = $("filter").value.trim().toLowerCase();
  const list = $("procedures");
  list.replaceChildren();
  let router = null;
  for (const method of state.document.methods) {
    if (filter && !method.name.toLowerCase().includes(filter) && !(method.description || "").toLowerCase().includes(filter)) {
      continue;
    }
    const name = method.name.slice(0, method.name.lastIndexOf("."));
    if (name !== router) {
      router = name;
      const heading = document.createElement("li");
      heading.className = "router";
      heading.textContent = router;
      list.append(heading);
    }
    const item = document.createElement("li");
    item.textContent = method.name;
    item.dataset.method = method.name;
    if (state.selected === method.name) item.className = "selected";
    item.addEventListener("click", () => select(method.name));
    list.append(item);
  }
}

/** A starting value for a schema: enough to show the shape, never a guess at real ids. */
function skeleton(schema, depth = 0) {
  if (!schema || depth > 4) return null;
  if (schema.$ref) return skeleton(resolve(schema.$ref), depth + 1);
  if (schema.default !== undefined) return schema.default;
  if (schema.enum) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "string": return "";
    case "integer":
    case "number": return 0;
    case "boolean": return false;
    case "array": return [];
    case "object": {
      const value = {};
      for (const key of schema.required || []) value[key] = skeleton(schema.properties?.[key], depth + 1);
      return value;
    }
    default: return null;
  }
}

function resolve(ref) {
  const name = ref.split("/").pop();
  return state.document.components?.schemas?.[name];
}

function select(name) {
  state.selected = name;
  const method = state.document.methods.find((m) => m.name === name);
  renderList();
  const section = $("procedure");
  section.replaceChildren();
  const title = document.createElement("h2");
  title.textContent = method.name;
  const kind = method["x-weft-kind"] ? ` · ${method["x-weft-kind"]}` : "";
  const access = document.createElement("p");
  access.className = "access";
  access.textContent = accessText(method) + kind;
  const doc = document.createElement("p");
  doc.textContent = method.description || "";
  section.append(title, access, doc);

  if (method.params.length > 0) {
    const table = document.createElement("table");
    table.innerHTML = "<thead><tr><th>param</th><th>required</th><th>description</th></tr></thead>";
    const body = document.createElement("tbody");
    for (const param of method.params) {
      const row = document.createElement("tr");
      for (const text of [param.name, param.required ? "yes" : "", param.description || ""]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      const schema = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = "schema";
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(param.schema, null, 2);
      schema.append(summary, pre);
      row.lastChild.append(schema);
      body.append(row);
    }
    table.append(body);
    section.append(table);
  }

  const editor = document.createElement("textarea");
  editor.id = "params";
  editor.spellcheck = false;
  const initial = {};
  for (const param of method.params) if (param.required) initial[param.name] = skeleton(param.schema);
  editor.value = state.drafts.get(name) ?? JSON.stringify(initial, null, 2);
  editor.addEventListener("input", () => state.drafts.set(name, editor.value));
  const call = document.createElement("button");
  call.id = "call";
  call.type = "button";
  call.textContent = `Call ${method.name}`;
  const output = document.createElement("pre");
  output.id = "result";
  output.hidden = true;
  call.addEventListener("click", async () => {
    let params;
    try {
      params = editor.value.trim() === "" ? {} : JSON.parse(editor.value);
    } catch (err) {
      show(output, `The params are not JSON: ${err.message}`, true);
      return;
    }
    call.disabled = true;
    try {
      const body = await rpc(method.name, params);
      if (body.error) show(output, JSON.stringify(body.error, null, 2), true);
      else {
        show(output, JSON.stringify(body.result, null, 2), false);
        if (body.result && body.result.accessToken && body.result.refreshToken) signedIn(body.result);
      }
    } catch (err) {
      show(output, `The call failed: ${err.message}`, true);
    } finally {
      call.disabled = false;
    }
  });
  const resultTitle = document.createElement("h2");
  resultTitle.textContent = "Result";
  section.append(editor, call, resultTitle, output);
}

function show(output, text, error) {
  output.hidden = false;
  output.className = error ? "error" : "";
  output.textContent = text;
}

// ---------------------------------------------------------------------------
// Live events: a native EventSource opened with a single-use ticket; every reconnect
// takes a fresh ticket and resumes after the last event received.
// ---------------------------------------------------------------------------

async function watch() {
  if (!state.accessToken) {
    $("stream-state").textContent = "Sign in first.";
    return;
  }
  stopWatching();
  $("watch").disabled = true;
  $("unwatch").disabled = false;
  await openStream();
}

async function openStream() {
  const ticket = await rpc("auth.streamTicket", {});
  if (!ticket.result) {
    $("stream-state").textContent = `No ticket: ${ticket.error.message}`;
    stopWatching();
    return;
  }
  const query = new URLSearchParams({ ticket: ticket.result.ticket });
  const topics = $("topics").value.trim();
  if (topics) query.set("topics", topics);
  if (state.lastEventId) query.set("lastEventId", state.lastEventId);
  const source = new EventSource(`/events?${query}`);
  state.source = source;
  source.addEventListener("open", () => {
    $("stream-state").textContent = topics ? `Watching ${topics}.` : "Watching everything you may see.";
  });
  // Events are named by their type, so `onmessage` never fires: one listener per name.
  for (const name of state.eventNames) {
    source.addEventListener(name, (message) => {
      if (message.lastEventId) state.lastEventId = message.lastEventId;
      if (name === "heartbeat") return;
      const item = document.createElement("li");
      const label = document.createElement("b");
      label.textContent = name;
      item.append(label, ` ${message.lastEventId ? `#${message.lastEventId} ` : ""}${message.data}`);
      $("events").prepend(item);
      while ($("events").children.length > 200) $("events").lastChild.remove();
    });
  }
  source.addEventListener("error", () => {
    // The ticket is spent: the browser's own reconnect would be refused. Reopen with a new one.
    source.close();
    if (state.source !== source) return;
    $("stream-state").textContent = "Reconnecting…";
    setTimeout(() => {
      if (state.source === source) openStream();
    }, 1000);
  });
}

function stopWatching(text = "Not watching.") {
  if (state.source) state.source.close();
  state.source = null;
  $("watch").disabled = false;
  $("unwatch").disabled = true;
  $("stream-state").textContent = text;
}

// ---------------------------------------------------------------------------

async function start() {
  const discovered = await rpc("rpc.discover", {});
  state.document = discovered.result;
  const events = state.document.components?.schemas?.WeftEvent;
  state.eventNames = (events?.oneOf || [])
    .map((variant) => variant.properties?.type?.const ?? variant.properties?.type?.enum?.[0])
    .filter(Boolean);
  renderList();
  $("filter").addEventListener("input", renderList);
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(false);
  });
  $("register").addEventListener("click", () => signIn(true));
  $("logout").addEventListener("click", async () => {
    await rpc("auth.logout", {});
    signedOut();
  });
  $("watch").addEventListener("click", watch);
  $("unwatch").addEventListener("click", () => stopWatching());
  const wanted = new URLSearchParams(location.search).get("procedure");
  if (wanted && state.document.methods.some((m) => m.name === wanted)) select(wanted);
}

start().catch((err) => {
  $("procedure").textContent = `Could not load the OpenRPC document: ${err.message}`;
});
