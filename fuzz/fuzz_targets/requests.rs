//! Every route's request decoding and validation, driven in process through
//! the real router on a real SQLite database: whatever the body, query or
//! path, the answer is never a 5xx (a handler panic answers 500) and always
//! matches Paxos's spec or our document, as a generated client reads it.
//!
//! Input: byte 0 picks the route, byte 1 how path parameters are filled and
//! whether the body is sent as JSON; the rest is the body (POST, PUT) or the
//! query string (GET, DELETE).
#![no_main]

use std::sync::LazyLock;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request};
use axum::Router;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use stableport_contract::{Contract, Exchange};
use stableport_server::{api, server, Config};
use tower::ServiceExt;

struct Harness {
    rt: tokio::runtime::Runtime,
    router: Router,
    token: String,
    routes: Vec<(String, String)>,
    /// Values a path parameter may take: a real profile, a UUID nothing has.
    ids: [String; 2],
    contract: Contract,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(Harness::new);

impl Harness {
    fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let db = std::env::temp_dir().join(format!("stableport-fuzz-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&db);
        let config = Config::new(format!("sqlite://{}", db.display()));
        let routes = api::route_table(config.is_sandbox());
        let (router, token, profile) = rt.block_on(async {
            let store = stableport_store::open(&config.database_url)
                .await
                .expect("open");
            let service = server::service(config, std::sync::Arc::new(store))
                .await
                .expect("service");
            let boot = service.bootstrap;
            let form = format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                boot.client_id.unwrap(),
                boot.client_secret.unwrap()
            );
            let router = service.router;
            let token = call(&router, "POST", "/oauth2/token", None, Some(form)).await;
            let token = token["access_token"].as_str().expect("token").to_string();
            let profile = call(
                &router,
                "POST",
                "/v2/profiles",
                Some(&token),
                Some(json!({"nickname": "fuzz"}).to_string()),
            )
            .await["id"]
                .as_str()
                .expect("profile")
                .to_string();
            let deposit = json!({"asset": "USD", "amount": "1000000"}).to_string();
            let path = format!("/v2/sandbox/profiles/{profile}/deposit");
            call(&router, "POST", &path, Some(&token), Some(deposit)).await;
            (router, token, profile)
        });
        Harness {
            rt,
            router,
            token,
            routes,
            ids: [profile, uuid::Uuid::nil().to_string()],
            contract: Contract::stableport(),
        }
    }
}

/// One set-up request; its answer must be a success.
async fn call(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Value {
    let form = path == "/oauth2/token";
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let content_type = if form {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let request = request
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.unwrap_or_default()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {bytes:?}");
    serde_json::from_slice(&bytes).unwrap()
}

/// The route template with each `{param}` filled.
fn fill(template: &str, ids: &[String; 2], choice: u8) -> String {
    let mut path = String::new();
    for (i, segment) in template.split('/').enumerate() {
        if i > 0 {
            path.push('/');
        }
        if segment.starts_with('{') {
            path.push_str(&ids[usize::from(choice >> i & 1)]);
        } else {
            path.push_str(segment);
        }
    }
    path
}

fuzz_target!(|data: &[u8]| {
    let h = &*HARNESS;
    let [route, flags, rest @ ..] = data else {
        return;
    };
    let (method, template) = &h.routes[usize::from(*route) % h.routes.len()];
    let path = fill(template, &h.ids, *flags);
    let mut request = Request::builder()
        .method(method.as_str())
        .header(header::AUTHORIZATION, format!("Bearer {}", h.token));
    let body = if method == "GET" || method == "DELETE" {
        let Ok(query) = std::str::from_utf8(rest) else {
            return;
        };
        let uri = format!("{path}?{query}");
        if uri.parse::<axum::http::Uri>().is_err() {
            return; // not a request a client can send
        }
        request = request.uri(uri);
        Body::empty()
    } else {
        request = request.uri(&path);
        if flags & 0x80 == 0 {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        Body::from(rest.to_vec())
    };
    let request = request.body(body).unwrap();
    let (status, content_type, bytes) = h.rt.block_on(async {
        let response = h.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (
            status,
            content_type,
            to_bytes(response.into_body(), usize::MAX).await.unwrap(),
        )
    });
    let shown = String::from_utf8_lossy(&bytes);
    assert!(status < 500, "{method} {path}: {status} {shown}");
    let exchange = Exchange {
        method,
        path: &path,
        status,
        content_type: content_type.as_deref(),
        body: &bytes,
    };
    if let Err(violation) = h.contract.check(&exchange) {
        panic!("{method} {path}: {status} {shown}: {violation}");
    }
});
