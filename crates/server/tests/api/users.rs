//! Users and roles (ours): who submits and who approves, with passwords
//! kept as argon2id hashes, and credentials that act for a user.

use reqwest::Method;
use serde_json::json;
use sqlx::Row;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    creates_lists_and_disables_users,
    refuses_bad_users,
    a_users_credentials_stop_with_the_user,
);

async fn creates_lists_and_disables_users(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let ada = json!({ "email": "ada@example.com", "roles": ["TREASURER", "APPROVER"] });
    let (status, made) = post(&client, "/v2/users", &ada).await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["roles"], json!(["TREASURER", "APPROVER"]));
    assert_eq!(made["status"], "ACTIVE");
    // Generated, shown once, stored only as an argon2id hash.
    let password = made["password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 32);
    let id = made["id"].as_str().unwrap().to_string();
    let (_, shown) = get(&client, &format!("/v2/users/{id}")).await;
    assert!(shown.get("password").is_none(), "{shown}");
    let store = db.store().await;
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let stored: String = row.try_get("password_hash").unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(&password));

    let (status, again) = post(&client, "/v2/users", &ada).await;
    assert_eq!(status, 409, "{again}");
    let bob = json!({ "email": "bob@example.com", "roles": ["VIEWER"], "password": "a long enough secret" });
    let (status, bob) = post(&client, "/v2/users", &bob).await;
    assert_eq!(status, 200, "{bob}");
    assert!(bob.get("password").is_none());

    let (status, disabled) = client
        .raw(Method::PUT, &format!("/v2/users/{id}/disable"), None)
        .await
        .map(|(s, _, b)| (s.as_u16(), b))
        .unwrap();
    assert_eq!((status, &disabled["status"]), (200, &json!("DISABLED")));
    let (_, active) = get(&client, "/v2/users").await;
    assert_eq!(active["items"].as_array().unwrap().len(), 1, "{active}");
    let (_, all) = get(&client, "/v2/users?include_disabled=true").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    let other = other_customer(&server, &db).await;
    assert_eq!(get(&other, &format!("/v2/users/{id}")).await.0, 404);
}

async fn refuses_bad_users(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let cases = [
        (json!({ "roles": ["VIEWER"] }), "email"),
        (json!({ "email": "x@example.com" }), "roles"),
        (json!({ "email": "x@example.com", "roles": [] }), "roles"),
        (
            json!({ "email": "x@example.com", "roles": ["ADMIN"] }),
            "roles",
        ),
        (
            json!({ "email": "not an email", "roles": ["VIEWER"] }),
            "email",
        ),
        (
            json!({ "email": "x@example.com", "roles": ["VIEWER"], "password": "short" }),
            "password",
        ),
    ];
    for (body, needle) in cases {
        let answer = client
            .raw(
                Method::POST,
                "/v2/users",
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await
            .unwrap();
        raw_problem(answer, 400, needle);
    }
    assert_eq!(get(&client, "/v2/users").await.1["items"], json!([]));
}

async fn a_users_credentials_stop_with_the_user(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let admin = server.client().await;
    let (_, user) = post(
        &admin,
        "/v2/users",
        &json!({ "email": "t@example.com", "roles": ["TREASURER"] }),
    )
    .await;
    let user = user["id"].as_str().unwrap();
    let (id, secret) = cli_credential(&db, &server.customer_id, Some(user)).await;
    let as_user = server.anonymous().login(&id, &secret, None).await.unwrap();
    as_user.profile("default").await.unwrap();

    let path = format!("/v2/users/{user}/disable");
    let (status, _, _) = admin.raw(Method::PUT, &path, None).await.unwrap();
    assert_eq!(status, 200);
    problem(as_user.profile("default").await, 401, "disabled");
    assert!(server.anonymous().token(&id, &secret, None).await.is_err());
    admin.profile("default").await.unwrap();
}
