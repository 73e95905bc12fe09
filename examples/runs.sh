#!/usr/bin/env bash
# Runs with curl: publish a workflow with a for-each loop, a decision and a human approval,
# execute it, find the approval task, approve it, wait for the result, and read the trace.
#
#   bash examples/runs.sh                          # server at http://127.0.0.1:8080
#   WEFT_URL=http://127.0.0.1:18181 bash examples/runs.sh
#
# Needs curl and python3. Every answer is checked; the script exits non-zero at the first
# one that is not what it should be.
set -euo pipefail
# shellcheck source=examples/lib.sh
source "$(dirname "$0")/lib.sh"

step "an account and a project"
email="runs-$("$PYTHON" -c 'import uuid; print(uuid.uuid4().hex[:12])')@example.com"
answer=$(call "" auth.register "{\"email\":\"$email\",\"password\":\"$PASSWORD\",\"displayName\":\"Operator\"}")
token=$(get "$answer" result.accessToken)
user_id=$(get "$answer" result.user.id)
answer=$(call "$token" project.create '{"name":"Payments"}')
project_id=$(get "$answer" result.id)

step "a workflow: for each payment, small ones pass, large ones need an approval"
graph='{"nodes":[
  {"id":"start","name":"Start","type":"start","position":{"x":0,"y":0},"config":{}},
  {"id":"each","name":"Each payment","type":"loop","position":{"x":200,"y":0},"config":{"kind":"forEach","items":"input.payments"}},
  {"id":"large","name":"Large?","type":"decision","position":{"x":400,"y":0},"config":{"condition":"item.amount > 1000"}},
  {"id":"ask","name":"Approve","type":"approval","position":{"x":600,"y":-80},"config":{"assignees":["'"$user_id"'"],"instructions":"Pay {{ item.amount }} to {{ item.to }}?","comment":"requiredOnReject"}},
  {"id":"paid","name":"Paid","type":"transform","position":{"x":800,"y":-80},"config":{"output":"paid {{ item.to }}"}},
  {"id":"held","name":"Held","type":"transform","position":{"x":800,"y":0},"config":{"output":"held {{ item.to }}: {{ nodes.ask.output.comment }}"}},
  {"id":"auto","name":"Auto","type":"transform","position":{"x":600,"y":80},"config":{"output":"auto {{ item.to }}"}},
  {"id":"done","name":"Done","type":"end","position":{"x":1000,"y":0},"config":{"output":"{{ nodes.each.output }}"}}],
 "edges":[
  {"source":"start","sourcePort":"out","target":"each","targetPort":"in"},
  {"source":"each","sourcePort":"body","target":"large","targetPort":"in"},
  {"source":"large","sourcePort":"true","target":"ask","targetPort":"in"},
  {"source":"large","sourcePort":"false","target":"auto","targetPort":"in"},
  {"source":"ask","sourcePort":"approved","target":"paid","targetPort":"in"},
  {"source":"ask","sourcePort":"rejected","target":"held","targetPort":"in"},
  {"source":"paid","sourcePort":"out","target":"each","targetPort":"continue"},
  {"source":"held","sourcePort":"out","target":"each","targetPort":"continue"},
  {"source":"auto","sourcePort":"out","target":"each","targetPort":"continue"},
  {"source":"each","sourcePort":"done","target":"done","targetPort":"in"}]}'
answer=$(call "$token" workflow.create "{\"projectId\":\"$project_id\",\"name\":\"Payouts\",\"graph\":$graph}")
expect "$answer" result.validation.valid true "workflow.create"
workflow_id=$(get "$answer" result.workflow.id)
answer=$(call "$token" workflow.publish "{\"workflowId\":\"$workflow_id\"}")
expect "$answer" result.publishedVersion 1 "workflow.publish"

step "execute it (workflow.execute returns the queued run at once)"
input='{"payments":[{"to":"ana","amount":20},{"to":"bo","amount":5000}]}'
answer=$(call "$token" workflow.execute "{\"workflowId\":\"$workflow_id\",\"input\":$input}")
show "$answer"
run_id=$(get "$answer" result.run.id)

step "the run waits for a person: the task appears in run.tasks"
task_id=""
for _ in $(seq 1 100); do
    answer=$(call "$token" run.tasks '{}')
    if task_id=$(get "$answer" result.items.0.id); then break; fi
    sleep 0.1
done
[[ -n "$task_id" ]] || fail "no approval task appeared"
show "$answer"
expect "$answer" result.items.0.instructions "Pay 5000 to bo?" "run.tasks"

step "approve it (run.approve)"
answer=$(call "$token" run.approve "{\"taskId\":\"$task_id\",\"comment\":\"checked the invoice\"}")
expect "$answer" result.status approved "run.approve"

step "the run finishes (run.get, polled)"
status=""
for _ in $(seq 1 100); do
    answer=$(call "$token" run.get "{\"runId\":\"$run_id\"}")
    status=$(get "$answer" result.run.status)
    [[ "$status" == succeeded || "$status" == failed ]] && break
    sleep 0.1
done
expect "$answer" result.run.status succeeded "run.get"
expect "$answer" result.run.output '["auto ana", "paid bo"]' "run.get"
"$PYTHON" - "$answer" <<'PY'
import json, sys
for n in json.loads(sys.argv[1])["result"]["nodes"]:
    print(f'  {n["nodeId"]:<6} {n["scope"] or "-":<7} {n["status"]:<10} ports={n["ports"]}')
PY

step "runs of the workflow (run.list)"
answer=$(call "$token" run.list "{\"workflowId\":\"$workflow_id\"}")
expect "$answer" result.items.0.id "$run_id" "run.list"
printf '\nDone: a run with a loop, a decision and an approval, decided by a person.\n'
