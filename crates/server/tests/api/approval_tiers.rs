//! Approvals beyond addresses: withdrawals held for approval with tiers by
//! USD worth (amounts at each threshold), fiat accounts, policy edits that
//! need approval themselves, and the `approval.*` events; on both backends.

use reqwest::Method;
use serde_json::{json, Value};
use stableport_client::{Client, RuleDestination as To, RuleSourceRequest as From};

use crate::approvals::{add_address, decide, request_for, team, ADDRESSES};
use crate::common::*;
use crate::destinations::wire_aba;
use crate::on_both_backends;

on_both_backends!(
    withdrawals_wait_for_the_approvals_their_tier_needs,
    policy_edits_and_fiat_accounts_need_approval,
    rules_wait_for_approval_to_start_and_to_stop,
    roles_change_with_approval_never_your_own,
    webhooks_receive_nothing_until_approved,
    credentials_work_until_their_deletion_is_approved,
);

const WITHDRAWALS: &str = "/v2/approvals/policies/CREATE_CRYPTO_WITHDRAWAL";

async fn withdraw(client: &Client, profile: &str, amount: &str) -> Value {
    let body = json!({ "profile_id": profile, "asset": "USDC", "amount": amount,
        "crypto_network": "ETHEREUM", "destination_address": ADDRESSES[0] });
    let (status, made) = post(client, "/v2/transfer/crypto-withdrawals", &body).await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["status"], "PENDING");
    made
}

async fn transfer_status(client: &Client, id: &str) -> String {
    let (_, t) = get(client, &format!("/v2/transfer/transfers/{id}")).await;
    t["status"].as_str().unwrap_or_default().to_string()
}

async fn withdrawals_wait_for_the_approvals_their_tier_needs(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 1).await;
    // Paxos's constraints: thresholds strictly increase, counts fit the
    // users who may approve, tiers only on withdrawals, no VIEWER approves.
    for (path, bad) in [
        (
            WITHDRAWALS,
            json!([{ "threshold_usd": "1000", "approvals_required": 1 },
                             { "threshold_usd": "1000", "approvals_required": 2 }]),
        ),
        (
            WITHDRAWALS,
            json!([{ "threshold_usd": "10", "approvals_required": 2,
                               "roles": ["ENTITY_MANAGER"] }]),
        ),
        (
            WITHDRAWALS,
            json!([{ "threshold_usd": "10", "approvals_required": 1,
                               "roles": ["VIEWER"] }]),
        ),
        (
            WITHDRAWALS,
            json!([{ "threshold_usd": "-5", "approvals_required": 1 }]),
        ),
        (
            "/v2/approvals/policies/ADD_FIAT_ACCOUNT",
            json!([{ "threshold_usd": "10", "approvals_required": 1 }]),
        ),
    ] {
        let body = json!({ "enabled": true, "approvals_required": 1, "tiers": bad });
        let (status, problem) = put(&t.manager, path, body).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("tiers"),
            "{problem}"
        );
    }
    // $0-999.99: one approver; $1,000-4,999.99: two; $5,000 up: the entity manager.
    let tiers = json!([{ "threshold_usd": "1000", "approvals_required": 2 },
        { "threshold_usd": "5000", "approvals_required": 1, "roles": ["ENTITY_MANAGER"] }]);
    let policy = json!({ "enabled": true, "approvals_required": 1, "tiers": tiers });
    let (status, set) = put(&t.manager, WITHDRAWALS, policy).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["tiers"][1]["threshold_usd"], "5000");

    let profile = funded_profile(&t.admin, "USDC", "20000").await;
    let mut made = Vec::new();
    for amount in ["999.99", "1000", "4999.99", "5000"] {
        made.push(withdraw(&t.treasurer, &profile, amount).await);
    }
    // Every one holds its funds at once.
    assert_eq!(available(&t.admin, &profile, "USDC").await, "8000.02");
    let mut requests = Vec::new();
    for w in &made {
        requests.push(request_for(&t.admin, w["id"].as_str().unwrap()).await);
    }
    let seen: Vec<(&str, &str, Value)> = requests
        .iter()
        .map(|r| {
            (
                r["amount_usd"].as_str().unwrap(),
                r["progress"].as_str().unwrap(),
                r["approver_roles"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("999.99", "0/1", json!(["APPROVER"])),
            ("1000", "0/2", json!(["APPROVER"])),
            ("4999.99", "0/2", json!(["APPROVER"])),
            ("5000", "0/1", json!(["ENTITY_MANAGER"])),
        ]
    );
    let id = |k: usize| requests[k]["id"].as_str().unwrap().to_string();
    let transfer = |k: usize| made[k]["id"].as_str().unwrap().to_string();
    // Nothing is sent before its approval, not even by a sandbox call.
    let complete = format!("/v2/sandbox/transfer/transfers/{}/complete", transfer(0));
    assert_eq!(post(&t.admin, &complete, &json!({})).await.0, 409);

    let (status, done) = decide(&t.approvers[0], &id(0), "approve", json!({})).await;
    assert_eq!(
        (status, &done["status"]),
        (200, &json!("APPROVED")),
        "{done}"
    );
    eventually("the approved withdrawal to be sent", || async {
        transfer_status(&t.admin, &transfer(0)).await == "COMPLETED"
    })
    .await;
    // The settler sends nothing still waiting (it had every chance above).
    for k in 1..4 {
        assert_eq!(transfer_status(&t.admin, &transfer(k)).await, "PENDING");
    }
    // The manager's tier: an approver is outside it; the manager decides.
    let (status, refused) = decide(&t.approvers[0], &id(3), "approve", json!({})).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused["detail"]
        .as_str()
        .unwrap()
        .contains("ENTITY_MANAGER"));
    let (status, done) = decide(&t.manager, &id(3), "approve", json!({})).await;
    assert_eq!(
        (status, &done["status"]),
        (200, &json!("APPROVED")),
        "{done}"
    );
    // Two approvals at $1,000; a rejection and a cancellation give the funds back.
    assert_eq!(
        decide(&t.approvers[0], &id(1), "approve", json!({}))
            .await
            .1["status"],
        "PENDING"
    );
    let (_, done) = decide(&t.approvers[1], &id(1), "approve", json!({})).await;
    assert_eq!(done["status"], "APPROVED");
    let reject = json!({ "reason": "not on the schedule" });
    assert_eq!(
        decide(&t.approvers[2], &id(2), "reject", reject).await.0,
        200
    );
    eventually("every decided withdrawal to finish", || async {
        let mut all = Vec::new();
        for k in 1..4 {
            all.push(transfer_status(&t.admin, &transfer(k)).await);
        }
        all == ["COMPLETED", "FAILED", "COMPLETED"]
    })
    .await;
    assert_eq!(available(&t.admin, &profile, "USDC").await, "13000.01");

    let held = withdraw(&t.treasurer, &profile, "10").await;
    let request = request_for(&t.admin, held["id"].as_str().unwrap()).await;
    let (status, _) = decide(
        &t.treasurer,
        request["id"].as_str().unwrap(),
        "cancel",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        transfer_status(&t.admin, held["id"].as_str().unwrap()).await,
        "FAILED"
    );
    assert_eq!(available(&t.admin, &profile, "USDC").await, "13000.01");
    db.assert_ledger_sound().await;
}

async fn policy_edits_and_fiat_accounts_need_approval(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 2).await;
    let path = "/v2/approvals/policies/ADD_CRYPTO_ADDRESS";
    // Submitted under 2-of-3, it stays 2-of-3 whatever the policy becomes.
    let (earlier, _) = add_address(&t.treasurer, ADDRESSES[0]).await;

    let (status, edit) = put(&t.manager, path, json!({ "enabled": false })).await;
    assert_eq!(status, 202, "{edit}");
    assert_eq!(
        (
            &edit["action"],
            &edit["progress"],
            &edit["proposed_policy"]["enabled"]
        ),
        (&json!("EDIT_APPROVAL_POLICY"), &json!("0/2"), &json!(false))
    );
    assert_eq!(get(&t.admin, path).await.1["enabled"], true);
    let edit_id = edit["id"].as_str().unwrap();
    assert_eq!(
        decide(&t.manager, edit_id, "approve", json!({})).await.0,
        403
    );
    decide(&t.approvers[0], edit_id, "approve", json!({})).await;
    let (_, done) = decide(&t.approvers[1], edit_id, "approve", json!({})).await;
    assert_eq!(done["status"], "APPROVED", "{done}");
    assert_eq!(get(&t.admin, path).await.1["enabled"], false);
    // Off now: an address stands at once; the earlier request still needs two.
    assert_eq!(add_address(&t.treasurer, ADDRESSES[1]).await.1, "APPROVED");
    let request = request_for(&t.admin, &earlier).await;
    assert_eq!(request["approvals_required"], 2);
    // A policy that is off is set at once; one that is on again needs approval to change.
    let (status, _) = put(
        &t.manager,
        path,
        json!({ "enabled": true, "approvals_required": 1 }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, edit) = put(
        &t.manager,
        path,
        json!({ "enabled": true, "approvals_required": 3 }),
    )
    .await;
    assert_eq!(status, 202);
    let reject = json!({ "reason": "three is too many" });
    let (_, done) = decide(
        &t.approvers[2],
        edit["id"].as_str().unwrap(),
        "reject",
        reject,
    )
    .await;
    assert_eq!(done["status"], "REJECTED");
    assert_eq!(get(&t.admin, path).await.1["approvals_required"], 1);
    // EDIT_APPROVAL_POLICY has no policy of its own.
    assert_eq!(
        get(&t.admin, "/v2/approvals/policies/EDIT_APPROVAL_POLICY")
            .await
            .0,
        404
    );

    // Fiat accounts: PENDING, unusable, until approved.
    let fiat = "/v2/approvals/policies/ADD_FIAT_ACCOUNT";
    assert_eq!(
        put(&t.manager, fiat, json!({ "enabled": true })).await.0,
        200
    );
    let (account, profile) = (
        fiat_account(&t.treasurer).await,
        funded_profile(&t.admin, "USD", "50").await,
    );
    assert_eq!(account["status"], "PENDING");
    let account_id = account["id"].as_str().unwrap();
    let wire = json!({ "profile_id": profile, "asset": "USD", "amount": "5",
                       "fiat_account_id": account_id });
    let (status, refused) = post(&t.admin, "/v2/transfer/fiat-withdrawals", &wire).await;
    assert_eq!(status, 400, "{refused}");
    let request = request_for(&t.admin, account_id).await;
    let (_, done) = decide(
        &t.approvers[0],
        request["id"].as_str().unwrap(),
        "approve",
        json!({}),
    )
    .await;
    assert_eq!(done["status"], "APPROVED");
    let (_, stored) = get(
        &t.admin,
        &format!("/v2/transfer/fiat-accounts/{account_id}"),
    )
    .await;
    assert_eq!(stored["status"], "APPROVED");
    assert_eq!(
        post(&t.admin, "/v2/transfer/fiat-withdrawals", &wire)
            .await
            .0,
        200
    );

    // Each request and decision is an event an approver can be told of.
    let (_, events) = get(&t.admin, "/v2/events?type=approval.requested&limit=100").await;
    assert_eq!(events["events"].as_array().unwrap().len(), 4, "{events}");
    let (_, events) = get(&t.admin, "/v2/events?type=approval.rejected").await;
    let rejected = &events["events"][0];
    assert_eq!(
        (&rejected["object"]["action"], &rejected["object"]["status"]),
        (&json!("EDIT_APPROVAL_POLICY"), &json!("REJECTED"))
    );
}

async fn fiat_account(client: &Client) -> Value {
    let made = client.create_fiat_account(&wire_aba()).await.unwrap();
    serde_json::to_value(made).unwrap()
}

async fn rule_status(client: &Client, id: &str) -> String {
    let (_, listed) = get(client, &format!("/v2/orchestration/rules?ids={id}")).await;
    listed["rules"][0]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn rules_wait_for_approval_to_start_and_to_stop(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 1).await;
    for action in ["ADD_ORCHESTRATION_RULE", "DELETE_ORCHESTRATION_RULE"] {
        let path = format!("/v2/approvals/policies/{action}");
        assert_eq!(
            put(&t.manager, &path, json!({ "enabled": true })).await.0,
            200
        );
    }
    let profile = default_profile(&t.admin).await;
    let mut rules = Vec::new();
    for nickname in ["kept", "refused"] {
        let source = From::Crypto {
            network: "ETHEREUM".into(),
        };
        let rule = t
            .treasurer
            .create_rule(
                nickname,
                &profile,
                "USDC",
                "USD",
                &source,
                &To::Profile(profile.clone()),
            )
            .await
            .unwrap();
        assert_eq!(rule.status, "PENDING");
        rules.push(rule.id);
    }
    // A PENDING rule cannot be deleted; its request decides it.
    let delete = |id: &str| format!("/v2/orchestration/rules/{id}");
    assert_eq!(
        send_status(&t.treasurer, Method::DELETE, &delete(&rules[0])).await,
        409
    );
    let kept = request_for(&t.admin, &rules[0]).await;
    decide(
        &t.approvers[0],
        kept["id"].as_str().unwrap(),
        "approve",
        json!({}),
    )
    .await;
    let refused = request_for(&t.admin, &rules[1]).await;
    let reason = json!({ "reason": "wrong profile" });
    let (_, done) = decide(
        &t.approvers[0],
        refused["id"].as_str().unwrap(),
        "reject",
        reason,
    )
    .await;
    assert_eq!(done["status"], "REJECTED", "{done}");
    assert_eq!(rule_status(&t.admin, &rules[0]).await, "ACTIVE");
    assert_eq!(rule_status(&t.admin, &rules[1]).await, "REJECTED");

    // Deleting an ACTIVE rule leaves it ACTIVE until the deletion is approved.
    let (status, still) = send_json(&t.treasurer, Method::DELETE, &delete(&rules[0])).await;
    assert_eq!(
        (status, &still["rule"]["status"]),
        (200, &json!("ACTIVE")),
        "{still}"
    );
    let (_, pending) = get(
        &t.admin,
        "/v2/approvals?action=DELETE_ORCHESTRATION_RULE&status=PENDING",
    )
    .await;
    let request = &pending["items"][0];
    assert_eq!(request["object_id"], rules[0].as_str());
    decide(
        &t.approvers[1],
        request["id"].as_str().unwrap(),
        "approve",
        json!({}),
    )
    .await;
    assert_eq!(rule_status(&t.admin, &rules[0]).await, "DELETED");
}

async fn send_json(client: &Client, method: Method, path: &str) -> (u16, Value) {
    let (status, _, body) = client.raw(method, path, None).await.unwrap();
    (status.as_u16(), body)
}

async fn send_status(client: &Client, method: Method, path: &str) -> u16 {
    send_json(client, method, path).await.0
}

async fn user_id(client: &Client, email: &str) -> String {
    let (_, listed) = get(client, "/v2/users").await;
    let found = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email);
    found.unwrap()["id"].as_str().unwrap().to_string()
}

async fn roles_of(client: &Client, id: &str) -> Value {
    get(client, &format!("/v2/users/{id}")).await.1["roles"].clone()
}

async fn roles_change_with_approval_never_your_own(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 1).await;
    let roles = |id: &str| format!("/v2/users/{id}/roles");
    // No policy: at once; bad input is a clear 4xx.
    let (status, set) = put(
        &t.admin,
        &roles(&t.treasurer_id),
        json!({ "roles": ["TREASURER", "VIEWER"] }),
    )
    .await;
    assert_eq!(
        (status, &set["roles"]),
        (200, &json!(["TREASURER", "VIEWER"])),
        "{set}"
    );
    assert_eq!(
        put(
            &t.admin,
            &roles(&t.treasurer_id),
            json!({ "roles": ["BOSS"] })
        )
        .await
        .0,
        400
    );
    assert_eq!(
        put(&t.admin, &roles(&t.treasurer_id), json!({ "roles": [] }))
            .await
            .0,
        400
    );
    let nobody = roles(&uuid::Uuid::new_v4().to_string());
    assert_eq!(
        put(&t.admin, &nobody, json!({ "roles": ["VIEWER"] }))
            .await
            .0,
        404
    );

    let path = "/v2/approvals/policies/ASSIGN_USER_ROLES";
    assert_eq!(
        put(&t.manager, path, json!({ "enabled": true })).await.0,
        200
    );
    // An approver asking to be made entity manager cannot approve it themself.
    let a0 = user_id(&t.admin, "a0@example.com").await;
    let (status, request) = put(
        &t.admin,
        &roles(&a0),
        json!({ "roles": ["APPROVER", "ENTITY_MANAGER"] }),
    )
    .await;
    assert_eq!(status, 202, "{request}");
    assert_eq!(
        request["proposed_roles"],
        json!(["ENTITY_MANAGER", "APPROVER"])
    );
    assert_eq!(
        roles_of(&t.admin, &a0).await,
        json!(["TREASURER", "APPROVER"])
    );
    let id = request["id"].as_str().unwrap();
    let (status, refused) = decide(&t.approvers[0], id, "approve", json!({})).await;
    assert_eq!(status, 403, "{refused}");
    let (_, done) = decide(&t.approvers[1], id, "approve", json!({})).await;
    assert_eq!(done["status"], "APPROVED", "{done}");
    assert_eq!(
        roles_of(&t.admin, &a0).await,
        json!(["ENTITY_MANAGER", "APPROVER"])
    );

    // A new user asking for roles is a VIEWER until they are approved.
    let body = json!({ "email": "new@example.com", "roles": ["APPROVER"] });
    let (status, made) = post(&t.admin, "/v2/users", &body).await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(
        (&made["roles"], &made["pending_roles"]),
        (&json!(["VIEWER"]), &json!(["APPROVER"]))
    );
    let id = made["approval_request_id"].as_str().unwrap();
    let (_, done) = decide(&t.approvers[2], id, "approve", json!({})).await;
    assert_eq!(done["status"], "APPROVED", "{done}");
    assert_eq!(
        roles_of(&t.admin, made["id"].as_str().unwrap()).await,
        json!(["APPROVER"])
    );
}

async fn add_webhook(client: &Client, name: &str) -> Value {
    let body = json!({ "name": name, "url": "http://127.0.0.1:9/hook",
                       "event_types": ["approval.requested"] });
    let (status, made) = post(client, "/v2/webhooks", &body).await;
    assert_eq!(status, 200, "{made}");
    made
}

async fn deliveries(client: &Client, webhook: &str) -> usize {
    let (_, listed) = get(client, &format!("/v2/webhooks/{webhook}/deliveries")).await;
    listed["items"].as_array().map_or(0, Vec::len)
}

async fn webhooks_receive_nothing_until_approved(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 1).await;
    for action in ["ADD_WEBHOOK", "DELETE_WEBHOOK"] {
        let path = format!("/v2/approvals/policies/{action}");
        assert_eq!(
            put(&t.manager, &path, json!({ "enabled": true })).await.0,
            200
        );
    }
    let first = add_webhook(&t.treasurer, "first").await;
    assert_eq!(first["status"], "PENDING");
    assert!(first["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = first["id"].as_str().unwrap();
    let (_, listed) = get(&t.admin, "/v2/webhooks").await;
    assert_eq!(listed["items"][0]["id"], id, "{listed}");
    // PENDING: not even its own approval.requested reaches it.
    let request = request_for(&t.admin, id).await;
    let (_, done) = decide(
        &t.approvers[0],
        request["id"].as_str().unwrap(),
        "approve",
        json!({}),
    )
    .await;
    assert_eq!(done["status"], "APPROVED");
    assert_eq!(
        get(&t.admin, &format!("/v2/webhooks/{id}")).await.1["status"],
        "ACTIVE"
    );
    assert_eq!(deliveries(&t.admin, id).await, 0);
    // ACTIVE: the next request's event is delivered to it.
    let second = add_webhook(&t.treasurer, "second").await;
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(deliveries(&t.admin, id).await, 1);
    let request = request_for(&t.admin, second_id).await;
    let reason = json!({ "reason": "one is enough" });
    decide(
        &t.approvers[0],
        request["id"].as_str().unwrap(),
        "reject",
        reason,
    )
    .await;
    assert_eq!(
        get(&t.admin, &format!("/v2/webhooks/{second_id}")).await.1["status"],
        "REJECTED"
    );

    // Deleting waits for approval too.
    let delete = format!("/v2/webhooks/{id}");
    let (status, still) = send_json(&t.treasurer, Method::DELETE, &delete).await;
    assert_eq!(
        (status, &still["status"]),
        (200, &json!("ACTIVE")),
        "{still}"
    );
    let (_, pending) = get(
        &t.admin,
        "/v2/approvals?action=DELETE_WEBHOOK&status=PENDING",
    )
    .await;
    let request = pending["items"][0]["id"].as_str().unwrap().to_string();
    decide(&t.approvers[1], &request, "approve", json!({})).await;
    assert_eq!(get(&t.admin, &delete).await.1["status"], "DELETED");
}

async fn credentials_work_until_their_deletion_is_approved(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 1).await;
    let path = "/v2/approvals/policies/DELETE_API_CREDENTIAL";
    assert_eq!(
        put(&t.manager, path, json!({ "enabled": true })).await.0,
        200
    );
    let (client_id, secret) = cli_credential(&db, &server.customer_id, None).await;
    let machine = server
        .anonymous()
        .login(&client_id, &secret, None)
        .await
        .unwrap();

    let delete = format!("/v2/api-creds/credentials/{client_id}");
    let (status, answer) = send_json(&t.treasurer, Method::DELETE, &delete).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(get(&machine, "/v2/profiles").await.0, 200);
    let (_, pending) = get(
        &t.admin,
        "/v2/approvals?action=DELETE_API_CREDENTIAL&status=PENDING",
    )
    .await;
    let request = &pending["items"][0];
    assert_eq!(request["client_id"], client_id.as_str(), "{pending}");
    // Asking again opens no second request.
    send_json(&t.treasurer, Method::DELETE, &delete).await;
    let (_, again) = get(&t.admin, "/v2/approvals?action=DELETE_API_CREDENTIAL").await;
    assert_eq!(again["items"].as_array().unwrap().len(), 1);

    let (_, done) = decide(
        &t.approvers[0],
        request["id"].as_str().unwrap(),
        "approve",
        json!({}),
    )
    .await;
    assert_eq!(done["status"], "APPROVED", "{done}");
    assert_eq!(get(&machine, "/v2/profiles").await.0, 401);
}
