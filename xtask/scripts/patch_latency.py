#!/usr/bin/env python3
"""Latency of workflow.patchGraph against a running weft server, seen from a separate client.

Creates an account, a project and a workflow whose graph is a chain of N transform nodes
(each template referencing the previous node), then sends one-operation JSON Patches and
prints client-side percentiles. Run the server with JSON logs to read the server-side
`elapsed_ms` of each `rpc call` line as well:

    WEFT_ADDR=127.0.0.1:18686 WEFT_DATA_DIR=$(mktemp -d) WEFT_LOG_FORMAT=json \\
      WEFT_MAX_BODY_BYTES=67108864 ./target/release/weft serve > server.log &
    python3 xtask/scripts/patch_latency.py http://127.0.0.1:18686 2000 40
"""
import json
import sys
import time
import urllib.request
import uuid

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
n_nodes = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
n_patches = int(sys.argv[3]) if len(sys.argv) > 3 else 40
token = None


def call(method, params):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    answer = json.loads(urllib.request.urlopen(urllib.request.Request(base + "/rpc", data=body, headers=headers)).read())
    if "error" in answer:
        raise SystemExit(f"{method}: {answer['error']}")
    return answer["result"]


session = call("auth.register", {"email": f"perf-{uuid.uuid4().hex[:10]}@example.com",
                                 "password": "violet-Tangerine-88-harbour", "displayName": "Perf"})
token = session["accessToken"]
project = call("project.create", {"name": "perf"})
nodes = [{"id": "start", "name": "Start", "type": "start", "position": {"x": 0, "y": 0}, "config": {}}]
edges, previous = [], "start"
for i in range(n_nodes - 2):
    node_id = f"n{i}"
    value = "{{ input }}" if previous == "start" else "{{ nodes.%s.output }}" % previous
    nodes.append({"id": node_id, "name": f"Step {i}", "type": "transform", "position": {"x": i, "y": 0},
                  "config": {"output": {"value": value, "i": i}}})
    edges.append({"source": previous, "sourcePort": "out", "target": node_id, "targetPort": "in"})
    previous = node_id
nodes.append({"id": "end", "name": "End", "type": "end", "position": {"x": 0, "y": 0},
              "config": {"output": "{{ nodes.%s.output }}" % previous}})
edges.append({"source": previous, "sourcePort": "out", "target": "end", "targetPort": "in"})
graph = {"nodes": nodes, "edges": edges}
created = call("workflow.create", {"projectId": project["id"], "name": "big", "graph": graph})
assert created["validation"]["valid"], created["validation"]
workflow_id, version = created["workflow"]["id"], created["workflow"]["currentVersion"]
print(f"graph: {n_nodes} nodes, {len(json.dumps(graph))} bytes")

times = []
for k in range(n_patches):
    started = time.perf_counter()
    saved = call("workflow.patchGraph", {"workflowId": workflow_id, "expectedVersion": version,
                                         "patch": [{"op": "replace", "path": "/nodes/5/name", "value": f"x{k}"}]})
    times.append((time.perf_counter() - started) * 1000)
    version = saved["workflow"]["currentVersion"]
times.sort()
print(f"patchGraph client ms: p50 {times[len(times) // 2]:.2f}  p90 {times[int(len(times) * 0.9)]:.2f}  "
      f"min {times[0]:.2f}  max {times[-1]:.2f}  (n={len(times)})")
