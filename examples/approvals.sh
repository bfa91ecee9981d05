#!/usr/bin/env bash
# Approvals (ours; Paxos has them in its dashboard): users with roles, a tiered
# policy on crypto withdrawals, a withdrawal held until two approvers agree,
# and a policy edit that needs approval itself.
# Also needs the stableport binary (STABLEPORT, default: on PATH) and the
# server's database (STABLEPORT_DATABASE_URL) to make credentials for users.
. "$(dirname "$0")/common.sh"
STABLEPORT="${STABLEPORT:-stableport}"
TOKEN=$(token)
ADMIN="Authorization: Bearer $TOKEN"
RUN=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:8])')

# 1. The customer's people, and a credential acting for each.
as_user() { # EMAIL ROLES -> a bearer header acting for a new user with ROLES
  local user customer made
  user=$(curl -sS --fail-with-body -X POST "$URL/v2/users" -H "$ADMIN" \
    -d "{\"email\": \"$1-$RUN@example.com\", \"roles\": $2}")
  customer=$(field "$user" customer_id)
  made=$("$STABLEPORT" credentials create --customer "$customer" --user "$(field "$user" id)" --scopes all)
  CLIENT_ID=$(field "$made" client_id) CLIENT_SECRET=$(field "$made" client_secret)
  echo "Authorization: Bearer $(token)"
}
MANAGER=$(as_user manager '["ENTITY_MANAGER"]')
TREASURER=$(as_user treasurer '["TREASURER"]')
ALICE=$(as_user alice '["APPROVER"]')
BOB=$(as_user bob '["APPROVER"]')

# 2. The entity manager guards crypto withdrawals: one approval below $1,000, two from $1,000 up.
curl -sS --fail-with-body -X PUT "$URL/v2/approvals/policies/CREATE_CRYPTO_WITHDRAWAL" -H "$MANAGER" -d '{
  "enabled": true, "approvals_required": 1,
  "tiers": [{ "threshold_usd": "1000", "approvals_required": 2, "roles": ["APPROVER"] }] }'

# 3. The treasurer withdraws 1,500 USDC: PENDING, the funds held, nothing sent yet.
PROFILE=$(field "$(curl -sS --fail-with-body "$URL/v2/profiles/default" -H "$ADMIN")" id)
curl -sS --fail-with-body -X POST "$URL/v2/sandbox/profiles/$PROFILE/deposit" -H "$ADMIN" \
  -d '{"asset": "USDC", "amount": "2000", "crypto_network": "ETHEREUM"}' >/dev/null
WITHDRAWAL=$(field "$(curl -sS --fail-with-body -X POST "$URL/v2/transfer/crypto-withdrawals" -H "$TREASURER" -d "{
  \"profile_id\": \"$PROFILE\", \"asset\": \"USDC\", \"amount\": \"1500\", \"crypto_network\": \"ETHEREUM\",
  \"destination_address\": \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\" }")" id)

# 4. Its request: 0/2, approvers only, $1,500 worth.
REQUEST=$(curl -sS --fail-with-body "$URL/v2/approvals?status=PENDING&action=CREATE_CRYPTO_WITHDRAWAL" -H "$ALICE")
ID=$(field "$REQUEST" items.0.id)
[ "$(field "$REQUEST" items.0.object_id)" = "$WITHDRAWAL" ]
[ "$(field "$REQUEST" items.0.progress)" = "0/2" ]

# 5. The treasurer may not approve; Alice and then Bob do, and it is sent.
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/v2/approvals/$ID/approve" -H "$TREASURER")" = 403 ]
curl -sS --fail-with-body -X POST "$URL/v2/approvals/$ID/approve" -H "$ALICE" >/dev/null
DONE=$(curl -sS --fail-with-body -X POST "$URL/v2/approvals/$ID/approve" -H "$BOB")
[ "$(field "$DONE" status)" = APPROVED ]
sent() { [ "$(field "$(curl -sS --fail-with-body "$URL/v2/transfer/transfers/$WITHDRAWAL" -H "$ADMIN")" status)" = COMPLETED ]; }
wait_for "the approved withdrawal to be sent" sent

# 6. Turning the policy off is itself approved under it: 202 with the request.
EDIT=$(curl -sS --fail-with-body -X PUT "$URL/v2/approvals/policies/CREATE_CRYPTO_WITHDRAWAL" -H "$MANAGER" \
  -d '{"enabled": false}')
[ "$(field "$EDIT" action)" = EDIT_APPROVAL_POLICY ]
curl -sS --fail-with-body -X POST "$URL/v2/approvals/$(field "$EDIT" id)/approve" -H "$ALICE" >/dev/null
[ "$(field "$(curl -sS --fail-with-body "$URL/v2/approvals/policies/CREATE_CRYPTO_WITHDRAWAL" -H "$ADMIN")" enabled)" = False ]

# 7. The trail: every act, with who and when.
curl -sS --fail-with-body "$URL/v2/approvals/$ID" -H "$ADMIN"
echo
