#!/usr/bin/env bash
# Redemptions (seed 004): USDC from a profile to a bank account (ad hoc), and
# USDG arriving on chain redeemed to the bank by a rule.
. "$(dirname "$0")/common.sh"
TOKEN=$(token)
AUTH="Authorization: Bearer $TOKEN"
PROFILE=$(field "$(curl -sS --fail-with-body "$URL/v2/profiles/default" -H "$AUTH")" id)
RUN=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:8])')

# A fiat account for withdrawals (approved at once in the sandbox by default).
ACCOUNT=$(curl -sS --fail-with-body -X POST "$URL/v2/transfer/fiat-accounts" -H "$AUTH" -d '{
  "fiat_account_owner": { "person_details": { "first_name": "Jane", "last_name": "Doe" } },
  "fiat_network_instructions": { "wire": {
    "account_number": "12345678",
    "routing_details": { "routing_number_type": "ABA", "routing_number": "031302971", "bank_name": "Customers Bank",
      "bank_address": { "country": "USA" } },
    "fiat_account_owner_address": { "address1": "456 Main Street", "city": "NY", "country": "USA" } } }
}')
BANK=$(field "$ACCOUNT" id)
approved() { [ "$(field "$(curl -sS --fail-with-body "$URL/v2/transfer/fiat-accounts/$BANK" -H "$AUTH")" status)" = APPROVED ]; }
wait_for "the fiat account to be approved" approved

# Example 1: USDC -> USD, profile to bank.
curl -sS --fail-with-body -X POST "$URL/v2/sandbox/profiles/$PROFILE/deposit" -H "$AUTH" \
  -d '{"asset": "USDC", "amount": "1000", "crypto_network": "ETHEREUM"}' >/dev/null
REDEEM=$(curl -sS --fail-with-body -X POST "$URL/v2/orchestration/orchestrations" -H "$AUTH" -d "{
  \"ref_id\": \"redeem-$RUN\",
  \"source_asset\": \"USDC\",
  \"destination_asset\": \"USD\",
  \"source_amount\": \"100\",
  \"source\": { \"profile\": { \"profile_id\": \"$PROFILE\" } },
  \"destination\": { \"fiat\": { \"bank_account_id\": \"$BANK\", \"memo\": \"redemption $RUN\" } }
}")
echo "$REDEEM"
ID=$(field "$REDEEM" id)
completed() { [ "$(field "$(curl -sS --fail-with-body "$URL/v2/orchestration/orchestrations/$1" -H "$AUTH")" status)" = COMPLETED ]; }
wait_for "the redemption to complete" completed "$ID"
WIRE=$(field "$(curl -sS --fail-with-body "$URL/v2/orchestration/orchestrations/$ID" -H "$AUTH")" destination_transfer.transfer_id)
curl -sS --fail-with-body "$URL/v2/transfer/transfers/$WIRE" -H "$AUTH"; echo

# Example 2: a rule redeems USDG arriving on Ethereum to the bank.
RULE=$(curl -sS --fail-with-body -X POST "$URL/v2/orchestration/rules" -H "$AUTH" -d "{
  \"ref_id\": \"redeem-usdg-$RUN\",
  \"profile_id\": \"$PROFILE\",
  \"source_asset\": \"USDG\",
  \"destination_asset\": \"USD\",
  \"source\": { \"crypto\": { \"network\": \"ETHEREUM\" } },
  \"destination\": { \"fiat\": { \"fiat_account_id\": \"$BANK\", \"memo\": \"usdg redemption\" } }
}")
echo "$RULE"
RULE_ID=$(field "$RULE" rule.id)
ADDRESS=$(field "$RULE" rule.source.crypto.address)
# Paxos's sandbox deposit to the rule's address arrives as a chain deposit would.
curl -sS --fail-with-body -X POST "$URL/v2/sandbox/profiles/$PROFILE/deposit" -H "$AUTH" -d "{
  \"asset\": \"USDG\", \"amount\": \"250\", \"crypto_network\": \"ETHEREUM\", \"crypto_address\": \"$ADDRESS\"
}"; echo
rule_done() {
  local list; list=$(curl -sS --fail-with-body "$URL/v2/orchestration/orchestrations?orchestration_rule_id=$RULE_ID" -H "$AUTH")
  [ "$(field "$list" orchestrations.0.status)" = COMPLETED ]
}
wait_for "the rule's orchestration to complete" rule_done
echo "seed 004: both redemptions COMPLETED"
