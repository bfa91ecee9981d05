//! OAuth2 client credentials and scope checks.

use reqwest::Method;
use stableport_client::Error;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    issues_tokens_per_rfc6749,
    refuses_bad_credentials,
    checks_scopes_per_route,
    refuses_bad_tokens,
    tokens_work_on_every_replica,
    deleted_credentials_stop_at_once_on_every_replica,
);

async fn issues_tokens_per_rfc6749(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let anon = server.anonymous();

    let all = anon
        .token(&server.client_id, &server.client_secret, None)
        .await
        .unwrap();
    assert_eq!(all.expires_in, 3599);
    assert_eq!(all.token_type, "bearer");
    assert!(
        all.scope.contains("conversion:write_conversion_stablecoin")
            && all.scope.contains("funding:read_profile")
    );

    let narrow = anon
        .token(
            &server.client_id,
            &server.client_secret,
            Some("funding:read_profile"),
        )
        .await
        .unwrap();
    assert_eq!(narrow.scope, "funding:read_profile");

    // The credentials may also come in an HTTP Basic header.
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/token", server.url))
        .basic_auth(&server.client_id, Some(&server.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (status, body) = judged_response("POST", response).await;
    assert_eq!(status, 200);
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
}

async fn refuses_bad_credentials(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let anon = server.anonymous();

    let wrong = anon
        .token(&server.client_id, "not-the-secret", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, Error::OAuth { status: 401, error, .. } if error == "invalid_client"),
        "{wrong:?}"
    );
    let unknown = anon
        .token("nobody", &server.client_secret, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, Error::OAuth { status: 401, error, .. } if error == "invalid_client"),
        "{unknown:?}"
    );
    let scope = anon
        .token(
            &server.client_id,
            &server.client_secret,
            Some("funding:read_profile exchange:write_everything"),
        )
        .await;
    assert!(
        matches!(&scope, Err(Error::OAuth { status: 400, error, description }) if error == "invalid_scope" && description.contains("exchange:write_everything")),
        "{scope:?}"
    );

    let http = reqwest::Client::new();
    let grant = http
        .post(format!("{}/oauth2/token", server.url))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &server.client_id),
            ("client_secret", &server.client_secret),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = judged_response("POST", grant).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");
    let missing = http
        .post(format!("{}/oauth2/token", server.url))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (status, body) = judged_response("POST", missing).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
}

async fn checks_scopes_per_route(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let full = server.client().await;
    let profile = funded_profile(&full, "USD", "100").await;
    let read_only = judged(&server.url)
        .login(
            &server.client_id,
            &server.client_secret,
            Some("conversion:read_conversion_stablecoin"),
        )
        .await
        .unwrap();

    let request = stableport_client::CreateConversion {
        profile_id: profile.clone(),
        amount: "1".into(),
        source_asset: "USD".into(),
        target_asset: "USDP".into(),
        ..Default::default()
    };
    let p = problem(read_only.create_conversion(&request).await, 403, "");
    assert_eq!(p.title, "Forbidden");
    assert_eq!(p.kind, "about:blank");
    assert_eq!(
        p.detail,
        "insufficient scopes: found 'conversion:read_conversion_stablecoin', required one of '[conversion:write_conversion_stablecoin]'"
    );
    problem(
        read_only.profiles().await,
        403,
        "required one of '[funding:read_profile]'",
    );
    problem(
        read_only.create_profile("x", None).await,
        403,
        "required one of '[funding:write_profile]'",
    );
    problem(
        read_only.deposit(&profile, "USD", "1").await,
        403,
        "required one of '[funding:read_profile]'",
    );
    assert!(read_only
        .list_conversions(&Default::default())
        .await
        .is_ok());
    // Nothing moved.
    assert_eq!(available(&full, &profile, "USD").await, "100");
}

async fn refuses_bad_tokens(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let anon = server.anonymous();
    raw_problem(
        anon.raw(Method::GET, "/v2/profiles", None).await.unwrap(),
        401,
        "missing Authorization",
    );
    raw_problem(
        anon.with_token("garbage")
            .raw(Method::GET, "/v2/profiles", None)
            .await
            .unwrap(),
        401,
        "invalid",
    );

    // A token signed with the server's own key but already expired.
    let key: String = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = 'signing'")
        .fetch_one(db.store().await.pool())
        .await
        .unwrap();
    let keys = stableport_server::api::common::keys::Keys::new(&key);
    let customer = server.customer_id.parse().unwrap();
    let now = chrono_now();
    let expired = keys.issue(
        &server.client_id,
        customer,
        "funding:read_profile",
        now - 4000,
    );
    raw_problem(
        anon.with_token(expired)
            .raw(Method::GET, "/v2/profiles", None)
            .await
            .unwrap(),
        401,
        "expired",
    );
    let fresh = keys.issue(&server.client_id, customer, "funding:read_profile", now);
    assert_eq!(
        anon.with_token(fresh)
            .raw(Method::GET, "/v2/profiles", None)
            .await
            .unwrap()
            .0,
        200
    );
    // A token signed with any other key is refused.
    let forged = stableport_server::api::common::keys::Keys::new(&"ab".repeat(32)).issue(
        "x",
        customer,
        "funding:read_profile",
        now,
    );
    raw_problem(
        anon.with_token(forged)
            .raw(Method::GET, "/v2/profiles", None)
            .await
            .unwrap(),
        401,
        "invalid",
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn tokens_work_on_every_replica(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = TestServer::start(&db).await;
    let b = TestServer::start(&db).await;
    let token = a
        .anonymous()
        .token(&a.client_id, &a.client_secret, None)
        .await
        .unwrap()
        .access_token;
    let on_b = judged(&b.url).with_token(token);
    let profile = on_b.profile("default").await.unwrap();
    assert_eq!(profile.kind, "DEFAULT");
}

async fn deleted_credentials_stop_at_once_on_every_replica(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = TestServer::start(&db).await;
    let b = TestServer::start(&db).await;
    let admin = a.client().await;
    let (client_id, secret) = cli_credential(&db, &a.customer_id, None).await;
    let token = (b.anonymous().token(&client_id, &secret, None).await)
        .unwrap()
        .access_token;
    let on_b = judged(&b.url).with_token(token);
    on_b.profile("default").await.unwrap();

    let (_, _, listed) = admin
        .raw(Method::GET, "/v2/api-creds/credentials", None)
        .await
        .unwrap();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&client_id.as_str()) && ids.contains(&a.client_id.as_str()),
        "{listed}"
    );

    let path = format!("/v2/api-creds/credentials/{client_id}");
    let (status, _, deleted) = admin.raw(Method::DELETE, &path, None).await.unwrap();
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["credentials"]["status"], "DISABLED");
    // The token issued before is refused on the other replica: before its
    // next request on a SQLite file, once the NOTIFY reaches it on
    // PostgreSQL (README, "API credentials").
    if backend == Backend::Postgres {
        for _ in 0..100 {
            if on_b.profile("default").await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    problem(on_b.profile("default").await, 401, "deleted");
    let again = b.anonymous().token(&client_id, &secret, None).await;
    assert!(again.is_err(), "{again:?}");

    let (_, _, approved) = admin
        .raw(Method::GET, "/v2/api-creds/credentials", None)
        .await
        .unwrap();
    assert!(!approved.to_string().contains(&client_id), "{approved}");
    let (_, _, disabled) = admin
        .raw(
            Method::GET,
            "/v2/api-creds/credentials?statuses=DISABLED",
            None,
        )
        .await
        .unwrap();
    assert_eq!(disabled["items"][0]["client_id"], client_id.as_str());
    // Another customer's credential is not found, and stays usable.
    let other = other_customer(&a, &db).await;
    let (status, _, _) = other
        .raw(
            Method::DELETE,
            &format!("/v2/api-creds/credentials/{}", a.client_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status.as_u16(), 404);
    admin.profile("default").await.unwrap();
}
