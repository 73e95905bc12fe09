#!/usr/bin/env bash
# A walk through Weft's HTTP API with curl: health, an account, tokens, a batch,
# the event stream, refresh (and what happens when a refresh token is reused), logout.
#
#   bash examples/quickstart.sh                          # server at http://127.0.0.1:8080
#   WEFT_URL=http://127.0.0.1:18181 bash examples/quickstart.sh
#
# Needs curl and python3 (for reading JSON). Every answer is checked, not just its HTTP
# status: the script exits non-zero at the first one that is not what it should be.
set -euo pipefail

# shellcheck source=examples/lib.sh
source "$(dirname "$0")/lib.sh"

step "health and readiness (GET /health, GET /ready)"
health=$(curl -sS --max-time 5 --fail-with-body "$WEFT_URL/health") || fail "GET /health: $health"
show "$health"
expect "$health" status ok "GET /health"
ready=$(curl -sS --max-time 5 --fail-with-body "$WEFT_URL/ready") || fail "GET /ready: $ready"
show "$ready"
expect "$ready" status ready "GET /ready"

step "register a new account (auth.register)"
email="quickstart-$("$PYTHON" -c 'import uuid; print(uuid.uuid4().hex[:12])')@example.com"
answer=$(call "" auth.register \
    "{\"email\":\"$email\",\"password\":\"$PASSWORD\",\"displayName\":\"Quickstart\"}")
show "$answer"
expect "$answer" result.user.email "$email" "auth.register"
expect "$answer" result.user.role USER "auth.register"
user_id=$(get "$answer" result.user.id)

step "log in (auth.login): a second session for the same account"
answer=$(call "" auth.login "{\"email\":\"$email\",\"password\":\"$PASSWORD\"}")
show "$answer"
expect "$answer" result.user.id "$user_id" "auth.login"
access_token=$(get "$answer" result.accessToken)
refresh_token=$(get "$answer" result.refreshToken)
session_id=$(get "$answer" result.sessionId)

step "who am I (auth.me with Authorization: Bearer <accessToken>)"
answer=$(call "$access_token" auth.me)
show "$answer"
expect "$answer" result.id "$user_id" "auth.me"
expect "$answer" result.email "$email" "auth.me"

step "a batch: auth.me + auth.sessions + a notification, one array answer"
# The notification (no id) gets no answer, so the array holds two answers. Answers may
# come in any order: match them to requests by id.
answer=$(rpc "$access_token" '[{"jsonrpc":"2.0","id":1,"method":"auth.me"},{"jsonrpc":"2.0","id":2,"method":"auth.sessions","params":{}},{"jsonrpc":"2.0","method":"auth.me"}]')
show "$answer"
"$PYTHON" - "$answer" "$user_id" "$session_id" <<'PY' || fail "batch: unexpected answer $answer"
import json, sys
answers, user_id, session_id = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
assert isinstance(answers, list) and len(answers) == 2, "expected an array of two answers"
by_id = {a["id"]: a for a in answers}
assert by_id[1]["result"]["id"] == user_id, "auth.me answered another user"
sessions = by_id[2]["result"]["items"]
assert len(sessions) == 2, "expected two sessions (register and login)"
current = [s["id"] for s in sessions if s["current"]]
assert current == [session_id], "the login session should be the current one"
PY

step "the event stream (auth.streamTicket, then GET /events?ticket=… for 3 s)"
answer=$(call "$access_token" auth.streamTicket)
show "$answer"
ticket=$(get "$answer" result.ticket) || fail "auth.streamTicket: no ticket in $answer"
# The stream never ends by itself: --max-time stops curl (exit code 28) after 3 s.
stream_rc=0
stream=$(curl -sS -N --max-time 3 "$WEFT_URL/events?ticket=$ticket" 2>/dev/null) || stream_rc=$?
[[ $stream_rc == 0 || $stream_rc == 28 ]] || fail "GET /events: curl exited with $stream_rc"
printf '%s\n' "$stream" | sed 's/^/  <- /'
[[ "$(printf '%s\n' "$stream" | head -n 1)" == "event: heartbeat" ]] ||
    fail "GET /events: the first frame is not a heartbeat: $stream"
# Tickets are single use.
status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "$WEFT_URL/events?ticket=$ticket")
echo "  the same ticket again: HTTP $status"
[[ "$status" == 401 ]] || fail "GET /events with a used ticket answered HTTP $status, expected 401"

step "refresh the tokens (auth.refresh), then present the old refresh token again"
answer=$(call "" auth.refresh "{\"refreshToken\":\"$refresh_token\"}")
show "$answer"
expect "$answer" result.sessionId "$session_id" "auth.refresh"
new_access_token=$(get "$answer" result.accessToken)
new_refresh_token=$(get "$answer" result.refreshToken)
[[ "$new_refresh_token" != "$refresh_token" ]] || fail "auth.refresh returned the same refresh token"
answer=$(call "$new_access_token" auth.me)
expect "$answer" result.id "$user_id" "auth.me with the refreshed access token"
echo "  auth.me with the new access token works"
# Refresh tokens are single use. A used one coming back means two parties hold it (a
# stolen token, or a client that lost the answer and retried), and the server cannot tell
# which is legitimate: it refuses the token with -32001 AND ends the whole session. So
# even the tokens the refresh just issued stop working (reason sessionRevoked), and the
# user must log in again.
answer=$(call "" auth.refresh "{\"refreshToken\":\"$refresh_token\"}")
show "$answer"
expect_unauthenticated "$answer" invalidRefreshToken "auth.refresh with a used refresh token"
answer=$(call "$new_access_token" auth.me)
show "$answer"
expect_unauthenticated "$answer" sessionRevoked "auth.me after refresh-token reuse"
answer=$(call "" auth.refresh "{\"refreshToken\":\"$new_refresh_token\"}")
show "$answer"
expect_unauthenticated "$answer" invalidRefreshToken "auth.refresh with the new refresh token"

step "log in again and log out (auth.login, auth.logout)"
answer=$(call "" auth.login "{\"email\":\"$email\",\"password\":\"$PASSWORD\"}")
show "$answer"
access_token=$(get "$answer" result.accessToken) || fail "auth.login: no accessToken in $answer"
session_id=$(get "$answer" result.sessionId)
answer=$(call "$access_token" auth.logout)
show "$answer"
expect "$answer" result.sessionId "$session_id" "auth.logout"
answer=$(call "$access_token" auth.me)
show "$answer"
expect_unauthenticated "$answer" sessionRevoked "auth.me after logout"

printf '\nall %d steps passed\n' "$step_no"
