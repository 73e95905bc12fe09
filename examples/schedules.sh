#!/usr/bin/env bash
# Schedules and webhooks with curl: a workflow that runs every second from a cron schedule
# (in a time zone), its fire history, and a webhook call signed with HMAC-SHA256.
#
#   bash examples/schedules.sh                          # server at http://127.0.0.1:8080
#   WEFT_URL=http://127.0.0.1:18181 bash examples/schedules.sh
#
# Needs curl, python3 and openssl (for the signature). Every answer is checked; the script
# exits non-zero at the first one that is not what it should be.
set -euo pipefail
# shellcheck source=examples/lib.sh
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "this example needs openssl" >&2; exit 1; }

step "an account, a project and a published workflow whose result is what triggered it"
email="schedules-$("$PYTHON" -c 'import uuid; print(uuid.uuid4().hex[:12])')@example.com"
answer=$(call "" auth.register "{\"email\":\"$email\",\"password\":\"$PASSWORD\",\"displayName\":\"Operator\"}")
token=$(get "$answer" result.accessToken)
answer=$(call "$token" project.create '{"name":"Reports"}')
project_id=$(get "$answer" result.id)
graph='{"nodes":[
  {"id":"start","name":"Trigger","type":"start","position":{"x":0,"y":0},"config":{}},
  {"id":"done","name":"Done","type":"end","position":{"x":200,"y":0},"config":{}}],
 "edges":[{"source":"start","sourcePort":"out","target":"done","targetPort":"in"}]}'
answer=$(call "$token" workflow.create "{\"projectId\":\"$project_id\",\"name\":\"Report\",\"graph\":$graph}")
workflow_id=$(get "$answer" result.workflow.id)
answer=$(call "$token" workflow.publish "{\"workflowId\":\"$workflow_id\"}")
expect "$answer" result.publishedVersion 1 "workflow.publish"

step "preview: 02:30 every day in Berlin, across the spring-forward night (02:30 does not exist)"
answer=$(call "$token" schedule.preview '{"cron":"30 2 * * *","timeZone":"Europe/Berlin","after":"2026-03-28T12:00:00Z","count":3}')
show "$answer"
expect "$answer" result.fireTimes.0 2026-03-29T01:00:00Z "the skipped 02:30 fires once at 03:00 CEST"

step "a schedule firing every second (6 fields: seconds first)"
answer=$(call "$token" schedule.create "{\"workflowId\":\"$workflow_id\",\"name\":\"every second\",\"cron\":\"* * * * * *\",\"timeZone\":\"Europe/Berlin\",\"overlap\":\"skip\",\"catchUp\":\"latest\"}")
show "$answer"
schedule_id=$(get "$answer" result.id)

step "its fires and their runs (schedule.fires)"
fired=""
for _ in $(seq 1 100); do
    answer=$(call "$token" schedule.fires "{\"scheduleId\":\"$schedule_id\"}")
    if fired=$(get "$answer" result.items.1.runStatus) && [[ "$fired" == succeeded ]]; then break; fi
    sleep 0.1
done
[[ "$fired" == succeeded ]] || fail "the schedule did not fire twice: $answer"
show "$answer"
run_id=$(get "$answer" result.items.1.runId)
answer=$(call "$token" run.get "{\"runId\":\"$run_id\"}")
expect "$answer" result.run.trigger schedule "a scheduled run"
expect "$answer" result.run.output.trigger schedule "the trigger node's data"

step "pause it"
answer=$(call "$token" schedule.pause "{\"scheduleId\":\"$schedule_id\"}")
expect "$answer" result.paused true "schedule.pause"

step "a webhook of the workflow (its secret is shown once)"
answer=$(call "$token" webhook.create "{\"workflowId\":\"$workflow_id\",\"name\":\"orders\",\"mode\":\"sync\",\"syncTimeoutMs\":5000}")
url="$WEFT_URL$(get "$answer" result.webhook.url)"
secret=$(get "$answer" result.secret)
echo "  webhook at $url"

step "a signed call: X-Weft-Signature: t=<unix>,v1=hex(HMAC-SHA256(secret, \"<t>.<body>\"))"
body='{"who":"ada"}'
timestamp=$(date +%s)
signature=$(printf '%s.%s' "$timestamp" "$body" | openssl dgst -sha256 -hmac "$secret" -hex | sed 's/^.* //')
answer=$(curl -sS --max-time 10 -H 'content-type: application/json' -H "x-weft-signature: t=$timestamp,v1=$signature" --data-binary "$body" "$url")
show "$answer"
expect "$answer" output.body.who ada "the sync webhook answers the run's output"
expect "$answer" output.trigger webhook "the trigger node's data"

step "the same signed call again is a replay (401)"
status=$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -H "x-weft-signature: t=$timestamp,v1=$signature" --data-binary "$body" "$url")
[[ "$status" == 401 ]] || fail "a replay answered $status"
echo "  401"

printf '\nschedules example passed\n'
