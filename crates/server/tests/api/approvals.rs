//! Approvals: a 2-of-3 policy on crypto destination addresses, decided by
//! users with roles, self-approval and double approval refused, and racing
//! approvals reaching APPROVED once; on both backends.

use serde_json::{json, Value};
use stableport_client::Client;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    two_of_three_approve_a_crypto_address,
    rejections_cancellations_and_who_may_decide,
    racing_approvals_approve_once,
);

pub(crate) const ADDRESSES: [&str; 3] = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
];

/// The customer's people, each with a client acting for them.
pub(crate) struct Team {
    pub admin: Client,
    pub manager: Client,
    pub treasurer: Client,
    pub approvers: Vec<Client>,
    pub treasurer_id: String,
}

async fn user(
    server: &TestServer,
    db: &TestDb,
    admin: &Client,
    email: &str,
    roles: Value,
) -> (Client, String) {
    let (status, made) = post(
        admin,
        "/v2/users",
        &json!({ "email": email, "roles": roles }),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    let (client_id, secret) = cli_credential(db, &server.customer_id, Some(&id)).await;
    let client = server.anonymous().login(&client_id, &secret, None).await;
    (client.unwrap(), id)
}

pub(crate) async fn team(server: &TestServer, db: &TestDb, required: u32) -> Team {
    let admin = server.client().await;
    let (manager, _) = user(
        server,
        db,
        &admin,
        "m@example.com",
        json!(["ENTITY_MANAGER"]),
    )
    .await;
    let (treasurer, treasurer_id) =
        user(server, db, &admin, "t@example.com", json!(["TREASURER"])).await;
    let mut approvers = Vec::new();
    for k in 0..3 {
        let email = format!("a{k}@example.com");
        approvers.push(
            user(server, db, &admin, &email, json!(["APPROVER", "TREASURER"]))
                .await
                .0,
        );
    }
    let policy = json!({ "enabled": true, "approvals_required": required });
    let path = "/v2/approvals/policies/ADD_CRYPTO_ADDRESS";
    let (status, set) = put(&manager, path, policy).await;
    assert_eq!(status, 200, "{set}");
    Team {
        admin,
        manager,
        treasurer,
        approvers,
        treasurer_id,
    }
}

/// Adds an address as `client`; its id and status.
pub(crate) async fn add_address(client: &Client, address: &str) -> (String, String) {
    let body = json!({ "crypto_network": "ETHEREUM", "address": address });
    let (status, put) = put(client, "/v2/transfer/crypto-destination-address", body).await;
    assert_eq!(status, 200, "{put}");
    let text = |k: &str| put["address"][k].as_str().unwrap().to_string();
    (text("id"), text("status"))
}

/// The one request waiting for `object`.
pub(crate) async fn request_for(client: &Client, object: &str) -> Value {
    let (_, listed) = get(client, "/v2/approvals").await;
    let found = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["object_id"] == object);
    found
        .cloned()
        .unwrap_or_else(|| panic!("no request for {object}: {listed}"))
}

pub(crate) async fn decide(client: &Client, id: &str, what: &str, body: Value) -> (u16, Value) {
    post(client, &format!("/v2/approvals/{id}/{what}"), &body).await
}

async fn two_of_three_approve_a_crypto_address(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 2).await;
    // Only an entity manager sets policies, and never above the approvers there are.
    let path = "/v2/approvals/policies/ADD_CRYPTO_ADDRESS";
    assert_eq!(
        put(&t.admin, path, json!({ "enabled": false })).await.0,
        403
    );
    assert_eq!(
        put(
            &t.manager,
            path,
            json!({ "enabled": true, "approvals_required": 4 })
        )
        .await
        .0,
        400
    );
    assert_eq!(get(&t.treasurer, path).await.1["approvals_required"], 2);

    let profile = funded_profile(&t.admin, "USDC", "10").await;
    let (address, status) = add_address(&t.treasurer, ADDRESSES[0]).await;
    assert_eq!(status, "PENDING");
    let orchestrate = json!({ "ref_id": "o-1", "profile_id": profile, "source_asset": "USDC",
        "destination_asset": "USDC", "source_amount": "1",
        "source": { "profile": { "profile_id": profile } },
        "destination": { "crypto": { "address_id": address } } });
    let (status, refused) = post(&t.admin, "/v2/orchestration/orchestrations", &orchestrate).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("PENDING"),
        "{refused}"
    );

    let request = request_for(&t.admin, &address).await;
    assert_eq!(
        (&request["progress"], &request["status"]),
        (&json!("0/2"), &json!("PENDING"))
    );
    assert_eq!(request["submitted_by"], t.treasurer_id.as_str());
    let id = request["id"].as_str().unwrap();
    assert_eq!(decide(&t.treasurer, id, "approve", json!({})).await.0, 403);
    let (status, first) = decide(&t.approvers[0], id, "approve", json!({})).await;
    assert_eq!((status, &first["progress"]), (200, &json!("1/2")));
    assert_eq!(
        decide(&t.approvers[0], id, "approve", json!({})).await.0,
        409
    );
    let (status, done) = decide(&t.approvers[1], id, "approve", json!({})).await;
    assert_eq!((status, &done["status"]), (200, &json!("APPROVED")));
    let acts: Vec<&str> = done["acts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["act"].as_str().unwrap())
        .collect();
    assert_eq!(acts, ["SUBMITTED", "APPROVED", "APPROVED"]);
    assert_eq!(
        decide(&t.approvers[2], id, "approve", json!({})).await.0,
        409
    );

    let (_, listed) = get(&t.admin, "/v2/transfer/crypto-destination-addresses").await;
    let stored = listed.to_string();
    assert!(
        stored.contains(&address) && stored.contains("APPROVED"),
        "{listed}"
    );
    let (status, made) = post(&t.admin, "/v2/orchestration/orchestrations", &orchestrate).await;
    assert_eq!(status, 200, "{made}");
    // Another customer sees none of it.
    let other = other_customer(&server, &db).await;
    assert_eq!(get(&other, &format!("/v2/approvals/{id}")).await.0, 404);
}

async fn rejections_cancellations_and_who_may_decide(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 1).await;
    let (rejected, _) = add_address(&t.treasurer, ADDRESSES[0]).await;
    let request = request_for(&t.admin, &rejected).await;
    let id = request["id"].as_str().unwrap();
    assert_eq!(
        decide(&t.approvers[0], id, "reject", json!({ "reason": " " }))
            .await
            .0,
        400
    );
    let (status, done) = decide(
        &t.approvers[0],
        id,
        "reject",
        json!({ "reason": "unknown payee" }),
    )
    .await;
    assert_eq!((status, &done["status"]), (200, &json!("REJECTED")));
    assert_eq!(done["acts"][1]["reason"], "unknown payee");
    assert_eq!(
        decide(&t.approvers[1], id, "approve", json!({})).await.0,
        409
    );

    // Its submitter may cancel; nobody else; and an approver never decides its own.
    let (cancelled, _) = add_address(&t.treasurer, ADDRESSES[1]).await;
    let id = request_for(&t.admin, &cancelled).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        decide(&t.approvers[0], &id, "cancel", json!({})).await.0,
        403
    );
    let (status, done) = decide(&t.treasurer, &id, "cancel", json!({})).await;
    assert_eq!((status, &done["status"]), (200, &json!("CANCELLED")));
    let (own, _) = add_address(&t.approvers[0], ADDRESSES[2]).await;
    let id = request_for(&t.admin, &own).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, refused) = decide(&t.approvers[0], &id, "approve", json!({})).await;
    assert_eq!(status, 403, "{refused}");

    let (_, listed) = get(&t.admin, "/v2/transfer/crypto-destination-addresses").await;
    let statuses: Vec<(String, String)> = listed["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(rejected, "REJECTED".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(cancelled, "REJECTED".into())),
        "{statuses:?}"
    );
    let (_, pending) = get(&t.admin, "/v2/approvals?status=PENDING").await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
}

/// Three approvers at once where two suffice: APPROVED once, with exactly
/// two approvals, the third told it came too late.
async fn racing_approvals_approve_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let t = team(&server, &db, 2).await;
    let (address, _) = add_address(&t.treasurer, ADDRESSES[0]).await;
    let id = request_for(&t.admin, &address).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tasks: Vec<_> = t
        .approvers
        .iter()
        .map(|client| {
            let (client, path) = (client.clone(), format!("/v2/approvals/{id}/approve"));
            tokio::spawn(async move { post(&client, &path, &json!({})).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let approved = answers
        .iter()
        .filter(|(s, a)| *s == 200 && a["status"] == "APPROVED")
        .count();
    let late = answers.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!((approved, late), (1, 1), "{answers:?}");
    let (_, request) = get(&t.admin, &format!("/v2/approvals/{id}")).await;
    assert_eq!(
        (&request["status"], &request["approvals"]),
        (&json!("APPROVED"), &json!(2))
    );
}
