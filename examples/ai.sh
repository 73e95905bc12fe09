#!/usr/bin/env bash
# AI with curl: store an OpenAI-compatible provider as a project credential, run a workflow
# with an `ai` node through it, and read the spend (ai.usage) and a budget (ai.budgets.*).
#
#   AI_BASE_URL=https://openrouter.ai/api/v1 AI_API_KEY=sk-or-… AI_MODEL=openai/gpt-4o-mini \
#       bash examples/ai.sh
#   AI_BASE_URL=http://127.0.0.1:11434/v1 AI_MODEL=llama3.2 bash examples/ai.sh   # Ollama
#
#   # no account needed: the fake provider next to this script
#   python3 examples/fake_provider.py --port 8089 &
#   AI_BASE_URL=http://127.0.0.1:8089/v1 bash examples/ai.sh
#
# Settings (environment):
#   WEFT_URL     the Weft server (default http://127.0.0.1:8080)
#   AI_BASE_URL  any OpenAI-compatible base URL (required)
#   AI_API_KEY   the provider's key; may be empty for local servers
#   AI_MODEL     the model id as the provider names it (default demo-model)
#
# A provider on this machine or a private network is refused unless the server allows it:
# start it with WEFT_HTTP_ALLOW_HOSTS=127.0.0.1 (or the provider's host). Calls are priced
# from the server's model catalogue (WEFT_AI_MODELS); a model not listed there costs 0.
#
# Needs curl and python3. Every answer is checked; the script exits non-zero at the first
# one that is not what it should be. The key is never printed: requests carrying it are shown
# with the key masked.
set -euo pipefail
# shellcheck source=examples/lib.sh
source "$(dirname "$0")/lib.sh"

AI_BASE_URL="${AI_BASE_URL:-}"
AI_API_KEY="${AI_API_KEY:-}"
AI_MODEL="${AI_MODEL:-demo-model}"
[[ -n "$AI_BASE_URL" ]] || fail "set AI_BASE_URL to an OpenAI-compatible base URL, e.g. https://openrouter.ai/api/v1 (or start examples/fake_provider.py)"
# The server stores a secret for every provider; local servers ignore it.
secret="${AI_API_KEY:-no-key-needed-for-local-servers}"

# json_str TEXT: TEXT as a JSON string literal.
json_str() {
    "$PYTHON" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
}

# usd AMOUNT: AMOUNT (a JSON number) with six decimals.
usd() {
    "$PYTHON" -c 'import sys; print(f"{float(sys.argv[1]):.6f}")' "$1"
}

# call_long TOKEN METHOD PARAMS SHOWN MAX_SECONDS: like `call`, but shows SHOWN instead of the
# params (to mask a key), sends the body on stdin (not in the process list) and waits up to
# MAX_SECONDS.
call_long() {
    printf '  -> {"jsonrpc":"2.0","id":1,"method":"%s","params":%s}\n' "$2" "$4" >&2
    printf '{"jsonrpc":"2.0","id":1,"method":"%s","params":%s}' "$2" "$3" |
        curl -sS --max-time "$5" -H 'content-type: application/json' \
            -H "authorization: Bearer $1" --data-binary @- "$RPC_URL"
}

# no_error JSON WHAT: fails when JSON is an error answer.
no_error() {
    if get "$1" error >/dev/null; then fail "$2: $1"; fi
}

step "an account and a project"
email="ai-$("$PYTHON" -c 'import uuid; print(uuid.uuid4().hex[:12])')@example.com"
answer=$(call "" auth.register "{\"email\":\"$email\",\"password\":\"$PASSWORD\",\"displayName\":\"Operator\"}")
token=$(get "$answer" result.accessToken) || fail "auth.register: $answer"
answer=$(call "$token" project.create '{"name":"Greetings"}')
project_id=$(get "$answer" result.id) || fail "project.create: $answer"

step "the server's model catalogue (ai.models): is $AI_MODEL priced?"
answer=$(call "$token" ai.models '{}')
no_error "$answer" "ai.models"
priced=$("$PYTHON" - "$answer" "$AI_MODEL" <<'PY'
import json, sys
models, name = json.loads(sys.argv[1])["result"]["models"], sys.argv[2]
for m in models:
    if m["id"] == name or f'{m["provider"]}/{m["id"]}' == name:
        print(f'  {m["provider"]}/{m["id"]}: ${m["inputPerMtokUsd"]} in, ${m["outputPerMtokUsd"]} out per million tokens')
        sys.exit(0)
print(f"  {name} is not among the {len(models)} models of the catalogue: its calls will cost 0 here")
sys.exit(1)
PY
) && in_catalogue=true || in_catalogue=false
printf '%s\n' "$priced"

step "store the provider as a project credential (ai.credentials.create)"
model_json=$(json_str "$AI_MODEL")
params="{\"projectId\":\"$project_id\",\"name\":\"provider\",\"kind\":\"aiProvider\",\"baseUrl\":$(json_str "$AI_BASE_URL"),\"models\":[$model_json]"
answer=$(call_long "$token" ai.credentials.create "$params,\"secret\":$(json_str "$secret")}" "$params,\"secret\":\"(hidden)\"}" 10)
if [[ "$(get "$answer" error.data.fields.0.code 2>/dev/null)" == blockedAddress ]]; then
    fail "the server refuses $AI_BASE_URL (loopback or private address): start it with WEFT_HTTP_ALLOW_HOSTS=<the provider's host>. $answer"
fi
no_error "$answer" "ai.credentials.create"
credential_id=$(get "$answer" result.id)
expect "$answer" result.kind aiProvider "ai.credentials.create"
hint=$(get "$answer" result.hint)
echo "  stored credential $credential_id, key shown only as its hint: $hint"

step "list the project's credentials (ai.credentials.list): no key in the answer"
answer=$(call "$token" ai.credentials.list "{\"projectId\":\"$project_id\"}")
show "$answer"
expect "$answer" result.items.0.id "$credential_id" "ai.credentials.list"
expect "$answer" result.items.0.hint "$hint" "ai.credentials.list"
[[ "$answer" != *"$secret"* ]] || fail "ai.credentials.list shows the key"

step "a workflow: start -> ai -> end, version 1 published"
ai_config="{\"model\":$model_json,\"prompt\":\"Write a one-line greeting for {{ input.name }}\",\"systemPrompt\":\"You are concise.\",\"maxTokens\":64,\"credentialId\":\"$credential_id\"}"
graph='{"nodes":[
  {"id":"start","name":"Start","type":"start","position":{"x":0,"y":0},"config":{}},
  {"id":"greet","name":"Greet","type":"ai","position":{"x":200,"y":0},"config":'"$ai_config"'},
  {"id":"done","name":"Done","type":"end","position":{"x":400,"y":0},"config":{}}],
 "edges":[
  {"source":"start","sourcePort":"out","target":"greet","targetPort":"in"},
  {"source":"greet","sourcePort":"out","target":"done","targetPort":"in"}]}'
answer=$(call "$token" workflow.create "{\"projectId\":\"$project_id\",\"name\":\"Greeter\",\"graph\":$graph}")
expect "$answer" result.validation.valid true "workflow.create"
workflow_id=$(get "$answer" result.workflow.id)
answer=$(call "$token" workflow.publish "{\"workflowId\":\"$workflow_id\"}")
expect "$answer" result.publishedVersion 1 "workflow.publish"

step "execute it and wait for the result (workflow.execute with wait)"
params="{\"workflowId\":\"$workflow_id\",\"input\":{\"name\":\"Ada\"},\"wait\":true,\"waitTimeoutMs\":120000}"
answer=$(call_long "$token" workflow.execute "$params" "$params" 130)
no_error "$answer" "workflow.execute"
status=$(get "$answer" result.run.status)
if [[ "$status" != succeeded ]]; then
    fail "the run is $status: $(get "$answer" result.run.error 2>/dev/null || echo "$answer")"
fi
output=$(get "$answer" result.run.output)
text=$(get "$output" text) || fail "no text in the run's output: $output"
[[ -n "${text//[[:space:]]/}" ]] || fail "the model answered nothing: $output"
cost=$(get "$output" costUsd) || fail "no cost in the run's output: $output"
printf '  text:   %s\n' "$text"
printf '  model:  %s (provider %s)\n' "$(get "$output" model)" "$(get "$output" provider)"
printf '  tokens: %s prompt, %s completion\n' "$(get "$output" promptTokens)" "$(get "$output" completionTokens)"
printf '  cost:   $%s\n' "$(usd "$cost")"
if "$PYTHON" -c 'import sys; sys.exit(0 if float(sys.argv[1]) == 0 else 1)' "$cost"; then
    if $in_catalogue; then
        echo "  note: the cost is 0: the model is priced at 0 in the server's catalogue"
    else
        echo "  note: the cost is 0 because $AI_MODEL is not in the server's model catalogue;"
        echo "        list it in WEFT_AI_MODELS with its prices to have its calls priced"
    fi
fi

step "the spend by model (ai.usage)"
answer=$(call "$token" ai.usage "{\"projectId\":\"$project_id\",\"groupBy\":\"model\"}")
no_error "$answer" "ai.usage"
"$PYTHON" - "$answer" "$cost" <<'PY' || fail "ai.usage does not show the run's call: $answer"
import json, sys
result, cost = json.loads(sys.argv[1])["result"], float(sys.argv[2])
for r in result["rows"]:
    print(f'  {r["key"]:<56} {r["calls"]} call(s)  {r["promptTokens"]}+{r["completionTokens"]} tokens  ${r["costUsd"]:.6f}')
print(f'  total: ${result["totalCostUsd"]:.6f}')
calls = sum(r["calls"] for r in result["rows"])
sys.exit(0 if calls >= 1 and abs(result["totalCostUsd"] - cost) < 1e-9 else 1)
PY

step "a project budget of \$1 a month (ai.budgets.set), and what is spent of it (ai.budgets.list)"
answer=$(call "$token" ai.budgets.set "{\"scope\":\"project\",\"projectId\":\"$project_id\",\"period\":\"month\",\"limitUsd\":1}")
expect "$answer" result.limitUsd 1.0 "ai.budgets.set"
answer=$(call "$token" ai.budgets.list "{\"projectId\":\"$project_id\"}")
no_error "$answer" "ai.budgets.list"
"$PYTHON" - "$answer" "$project_id" "$cost" <<'PY' || fail "ai.budgets.list does not show the budget and its spend: $answer"
import json, sys
budgets, project, cost = json.loads(sys.argv[1])["result"]["items"], sys.argv[2], float(sys.argv[3])
for b in budgets:
    print(f'  {b["scope"]:<8} {b["period"]:<6} spent ${b["spentUsd"]:.6f} of ${b["limitUsd"]:.2f}')
mine = [b for b in budgets if b["scope"] == "project" and b["subjectId"] == project]
sys.exit(0 if len(mine) == 1 and abs(mine[0]["spentUsd"] - cost) < 1e-9 else 1)
PY
printf '\nDone: a provider credential, an ai node run through it, and its spend: $%s.\n' "$(usd "$cost")"
