#!/usr/bin/env bash
# Projects and workflows with curl: create a project and a workflow, edit the graph twice
# (a whole-graph save and a JSON Patch), see a stale edit refused, diff two versions,
# restore the first one, publish, and export.
#
#   bash examples/workflows.sh                          # server at http://127.0.0.1:8080
#   WEFT_URL=http://127.0.0.1:18181 bash examples/workflows.sh
#
# Needs curl and python3. Every answer is checked; the script exits non-zero at the first
# one that is not what it should be.
set -euo pipefail
# shellcheck source=examples/lib.sh
source "$(dirname "$0")/lib.sh"

step "an account to work with (auth.register)"
email="workflows-$("$PYTHON" -c 'import uuid; print(uuid.uuid4().hex[:12])')@example.com"
answer=$(call "" auth.register "{\"email\":\"$email\",\"password\":\"$PASSWORD\",\"displayName\":\"Builder\"}")
expect "$answer" result.user.email "$email" "auth.register"
token=$(get "$answer" result.accessToken)

step "a project (project.create)"
answer=$(call "$token" project.create '{"name":"Customer onboarding","description":"Example project"}')
show "$answer"
expect "$answer" result.myRole OWNER "project.create"
project_id=$(get "$answer" result.id)

step "a workflow with a three-node graph (workflow.create)"
graph='{"nodes":[
  {"id":"start","name":"Start","type":"start","position":{"x":0,"y":0},"config":{}},
  {"id":"greet","name":"Greet","type":"transform","position":{"x":220,"y":0},"config":{"output":{"text":"Hello {{ input.name }}"}}},
  {"id":"done","name":"Done","type":"end","position":{"x":440,"y":0},"config":{"output":"{{ nodes.greet.output }}"}}],
 "edges":[
  {"source":"start","sourcePort":"out","target":"greet","targetPort":"in"},
  {"source":"greet","sourcePort":"out","target":"done","targetPort":"in"}]}'
answer=$(call "$token" workflow.create "{\"projectId\":\"$project_id\",\"name\":\"Welcome\",\"tags\":[\"onboarding\"],\"graph\":$graph}")
show "$answer"
expect "$answer" result.workflow.currentVersion 1 "workflow.create"
expect "$answer" result.validation.valid true "workflow.create"
workflow_id=$(get "$answer" result.workflow.id)

step "edit 1: save a whole new graph based on version 1 (workflow.saveGraph)"
graph2=${graph/Hello/Welcome aboard,}
answer=$(call "$token" workflow.saveGraph "{\"workflowId\":\"$workflow_id\",\"expectedVersion\":1,\"graph\":$graph2,\"message\":\"warmer greeting\"}")
show "$answer"
expect "$answer" result.workflow.currentVersion 2 "workflow.saveGraph"

step "edit 2: a JSON Patch (RFC 6902) based on version 2 (workflow.patchGraph)"
patch='[{"op":"replace","path":"/nodes/1/name","value":"Compose greeting"},{"op":"replace","path":"/nodes/1/position/y","value":80}]'
answer=$(call "$token" workflow.patchGraph "{\"workflowId\":\"$workflow_id\",\"expectedVersion\":2,\"patch\":$patch,\"message\":\"rename\"}")
show "$answer"
expect "$answer" result.workflow.currentVersion 3 "workflow.patchGraph"

step "a stale edit (still based on version 2) is refused with the current version"
answer=$(call "$token" workflow.patchGraph "{\"workflowId\":\"$workflow_id\",\"expectedVersion\":2,\"patch\":[]}")
show "$answer"
expect "$answer" error.code -32009 "stale patchGraph"
expect "$answer" error.data.currentVersion 3 "stale patchGraph"

step "history and a diff between version 1 and 3 (workflow.versions, workflow.diff)"
answer=$(call "$token" workflow.versions "{\"workflowId\":\"$workflow_id\"}")
show "$answer"
expect "$answer" result.items.0.message rename "workflow.versions"
answer=$(call "$token" workflow.diff "{\"workflowId\":\"$workflow_id\",\"from\":1,\"to\":3}")
show "$answer"
expect "$answer" result.diff.nodesChanged.0.id greet "workflow.diff"

step "restore version 1 as version 4 (workflow.restore), then publish it (workflow.publish)"
answer=$(call "$token" workflow.restore "{\"workflowId\":\"$workflow_id\",\"version\":1}")
show "$answer"
expect "$answer" result.workflow.currentVersion 4 "workflow.restore"
answer=$(call "$token" workflow.getVersion "{\"workflowId\":\"$workflow_id\",\"version\":4}")
expect "$answer" result.graph.nodes.1.config.output.text "Hello {{ input.name }}" "restored graph"
answer=$(call "$token" workflow.publish "{\"workflowId\":\"$workflow_id\"}")
show "$answer"
expect "$answer" result.status published "workflow.publish"
expect "$answer" result.publishedVersion 4 "workflow.publish"

step "export it as a portable document (workflow.export)"
answer=$(call "$token" workflow.export "{\"workflowId\":\"$workflow_id\"}")
show "$answer"
expect "$answer" result.format weft.workflow "workflow.export"
expect "$answer" result.formatVersion 1 "workflow.export"

printf '\nall %d steps passed\n' "$step_no"
