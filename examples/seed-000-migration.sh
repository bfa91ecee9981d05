#!/usr/bin/env bash
# The migration guide (seed 000): the same conversion through the legacy API
# and through Orchestrations, each in its own list, with the same effect.
. "$(dirname "$0")/common.sh"
TOKEN=$(token "conversion:read_conversion_stablecoin conversion:write_conversion_stablecoin orchestration:read_orchestration orchestration:write_orchestration funding:read_profile funding:write_profile")
AUTH="Authorization: Bearer $TOKEN"
RUN=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:8])')
new_profile() {
  local p; p=$(curl -sS --fail-with-body -X POST "$URL/v2/profiles" -H "$AUTH" --data "{\"nickname\": \"$1-$RUN\"}")
  field "$p" id
}
LEGACY=$(new_profile legacy)
MODERN=$(new_profile modern)
for p in "$LEGACY" "$MODERN"; do
  curl -sS --fail-with-body -X POST "$URL/v2/sandbox/profiles/$p/deposit" -H "$AUTH" --data '{"asset": "USD", "amount": "1000"}' >/dev/null
done

# Before: Create Stablecoin Conversion.
curl -sS --fail-with-body -X POST "$URL/v2/conversion/stablecoins" \
  -H "$AUTH" -H 'Content-Type: application/json' -d "{
    \"ref_id\": \"usd-pyusd-$RUN\",
    \"profile_id\": \"$LEGACY\",
    \"amount\": \"100\",
    \"source_asset\": \"USD\",
    \"target_asset\": \"PYUSD\",
    \"metadata\": {
      \"my_id\": \"4f8a2b6c-9d1e-4c3a-b5f7-0e2d8a7c1b9f\"
    }
  }"; echo

# After: Create Orchestration.
ORCHESTRATION=$(curl -sS --fail-with-body -X POST "$URL/v2/orchestration/orchestrations" \
  -H "$AUTH" -H 'Content-Type: application/json' -d "{
    \"ref_id\": \"usd-pyusd-$RUN\",
    \"source_amount\": \"100\",
    \"source_asset\": \"USD\",
    \"destination_asset\": \"PYUSD\",
    \"source\": {
      \"profile\": {
        \"profile_id\": \"$MODERN\"
      }
    },
    \"destination\": {
      \"profile\": {
        \"profile_id\": \"$MODERN\"
      }
    },
    \"metadata\": {
      \"my_id\": \"4f8a2b6c-9d1e-4c3a-b5f7-0e2d8a7c1b9f\"
    }
  }")
echo "$ORCHESTRATION"
[ "$(field "$ORCHESTRATION" status)" = PROCESSING ]

done_both() {
  local c o
  c=$(curl -sS --fail-with-body "$URL/v2/conversion/stablecoins?profile_id=$LEGACY&created_at.begin=2020-01-01T00:00:00Z" -H "$AUTH")
  o=$(curl -sS --fail-with-body "$URL/v2/orchestration/orchestrations?profile_id=$MODERN&created_at.gte=2020-01-01T00:00:00Z" -H "$AUTH")
  [ "$(field "$c" items.0.status)" = SETTLED ] && [ "$(field "$o" orchestrations.0.status)" = COMPLETED ]
}
wait_for "both to finish" done_both
a=$(curl -sS --fail-with-body "$URL/v2/profiles/$LEGACY/balances" -H "$AUTH")
b=$(curl -sS --fail-with-body "$URL/v2/profiles/$MODERN/balances" -H "$AUTH")
[ "$a" = "$b" ] || { echo "balances differ: $a vs $b" >&2; exit 1; }
echo "$b"
echo "seed 000: the legacy conversion and the orchestration left the same balances"
