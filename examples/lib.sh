# Shared by the example scripts: settings, JSON helpers (python3) and a JSON-RPC caller.
# Source it: `source "$(dirname "$0")/lib.sh"`.

WEFT_URL="${WEFT_URL:-http://127.0.0.1:8080}"
WEFT_URL="${WEFT_URL%/}"
RPC_URL="$WEFT_URL/rpc"
# Long and uncommon enough for the server's password-strength check.
PASSWORD='violet-Tangerine-88-harbour'

for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "the examples need $tool" >&2; exit 1; }
done
# Resolved once: version-manager shims (pyenv, asdf) add a noticeable delay to every call.
PYTHON=$(python3 -c 'import sys; print(sys.executable)')

step_no=0
step() {
    step_no=$((step_no + 1))
    printf '\n== %d. %s\n' "$step_no" "$*"
}

fail() {
    printf '\nFAILED: %s\n' "$*" >&2
    exit 1
}

# get JSON PATH: prints the value at a dotted PATH (`result.user.email`, `0.id`): strings
# as they are, anything else as JSON. Returns 1 when the path does not exist.
get() {
    "$PYTHON" - "$1" "$2" <<'PY'
import json, sys
value = json.loads(sys.argv[1])
for key in filter(None, sys.argv[2].split(".")):
    try:
        value = value[int(key)] if isinstance(value, list) else value[key]
    except (KeyError, IndexError, ValueError, TypeError):
        sys.exit(1)
print(value if isinstance(value, str) else json.dumps(value))
PY
}

# expect JSON PATH VALUE WHAT: fails unless the value at PATH is VALUE.
expect() {
    local actual
    actual=$(get "$1" "$2") || fail "$4: no '$2' in $1"
    [[ "$actual" == "$3" ]] || fail "$4: '$2' is $actual, expected $3 (in $1)"
}

# show JSON: prints it on one line with long strings (tokens) shortened.
show() {
    "$PYTHON" - "$1" <<'PY'
import json, sys
def shorten(v):
    if isinstance(v, str) and len(v) > 40:
        return v[:20] + "…" + v[-8:]
    if isinstance(v, list):
        return [shorten(x) for x in v]
    if isinstance(v, dict):
        return {k: shorten(x) for k, x in v.items()}
    return v
print("  <- " + json.dumps(shorten(json.loads(sys.argv[1])), ensure_ascii=False))
PY
}

# rpc TOKEN BODY: POSTs one JSON-RPC message (TOKEN may be empty) and prints the answer.
rpc() {
    local -a auth=()
    [[ -n "$1" ]] && auth=(-H "authorization: Bearer $1")
    printf '  -> %s\n' "$2" >&2
    curl -sS --max-time 10 -H 'content-type: application/json' "${auth[@]}" --data-binary "$2" "$RPC_URL"
}

# call TOKEN METHOD [PARAMS]: a single request with id 1.
call() {
    rpc "$1" "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-{\}}}"
}

# expect_unauthenticated JSON REASON WHAT: fails unless JSON is error -32001 with REASON.
expect_unauthenticated() {
    expect "$1" error.code -32001 "$3"
    expect "$1" error.data.kind unauthenticated "$3"
    expect "$1" error.data.reason "$2" "$3"
}

