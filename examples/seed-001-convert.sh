#!/usr/bin/env bash
# The Paxos "Convert" guide (seed 001): deposit USD, convert to PYUSD, see it settle.
. "$(dirname "$0")/common.sh"
TOKEN=$(token "conversion:read_conversion_stablecoin conversion:write_conversion_stablecoin funding:read_profile")
AUTH="Authorization: Bearer $TOKEN"
PROFILE=$(field "$(curl -sS --fail-with-body "$URL/v2/profiles" -H "$AUTH")" items.0.id)

curl -sS --fail-with-body --request POST --location "$URL/v2/sandbox/profiles/$PROFILE/deposit" \
  --header "$AUTH" --data '{
"asset": "USD",
"amount": "1000"
}'; echo

REF="sc_pyusd_$(python3 -c 'import uuid; print(uuid.uuid4())')"
CONVERSION=$(curl -sS --fail-with-body --location "$URL/v2/conversion/stablecoins" \
  --header 'Content-Type: application/json' --header "$AUTH" --data "{
\"ref_id\": \"$REF\",
\"profile_id\": \"$PROFILE\",
\"amount\": \"100\",
\"source_asset\": \"USD\",
\"target_asset\": \"PYUSD\"
}")
echo "$CONVERSION"
[ "$(field "$CONVERSION" status)" = CREATED ]
ID=$(field "$CONVERSION" id)

settled() {
  local list; list=$(curl -sS --fail-with-body --location "$URL/v2/conversion/stablecoins?profile_id=$PROFILE&order=DESC" \
    --header 'Accept: application/json' --header "$AUTH")
  [ "$(field "$list" items.0.id)" = "$ID" ] && [ "$(field "$list" items.0.status)" = SETTLED ]
}
wait_for "the conversion to settle" settled
curl -sS --fail-with-body "$URL/v2/profiles/$PROFILE/balances/PYUSD" -H "$AUTH"; echo
echo "seed 001: converted 100 USD to PYUSD"
