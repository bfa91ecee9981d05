# Shared by the walkthroughs: a token, a JSON field reader, and polling.
# Needs STABLEPORT_URL (default http://127.0.0.1:8080), CLIENT_ID, CLIENT_SECRET.
set -euo pipefail
URL="${STABLEPORT_URL:-http://127.0.0.1:8080}"
: "${CLIENT_ID:?set CLIENT_ID to the client_id stableport printed}"
: "${CLIENT_SECRET:?set CLIENT_SECRET to the client_secret stableport printed}"

# field JSON PATH: prints a field, e.g. field "$body" items.0.id
field() {
  python3 -c 'import json,sys
v=json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v[k]
print(v if not isinstance(v,(dict,list)) else json.dumps(v))' "$1" "$2"
}

token() {
  field "$(curl -sS --fail-with-body -X POST "$URL/oauth2/token" \
    -d grant_type=client_credentials -d client_id="$CLIENT_ID" -d client_secret="$CLIENT_SECRET" \
    ${1:+-d "scope=$1"})" access_token
}

# wait_for DESCRIPTION COMMAND...: retries COMMAND for up to 30 s.
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 120); do "$@" && return 0; sleep 0.25; done
  echo "timed out waiting for $what" >&2; return 1
}
