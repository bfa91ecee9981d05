//! `/v2/openapi.json` and `/docs`: the document lists exactly the routes the
//! server serves, Paxos's parts of it are Paxos's spec unchanged, and the
//! docs page renders in a real browser.

use std::collections::BTreeSet;
use std::process::Command;

use reqwest::Method;
use serde_json::Value;
use stableport_contract::read_yaml;
use stableport_server::api::common::spec::normalize;
use stableport_server::Environment;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    documents_exactly_the_routes_served,
    every_documented_route_answers,
    docs_render_in_a_browser,
);

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn paxos_spec() -> Value {
    read_yaml(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../spec/paxos-v2-openapi-full.yaml"
        )
        .as_ref(),
    )
}

async fn document(server: &TestServer) -> Value {
    let (status, content_type, doc) = server
        .anonymous()
        .raw(Method::GET, "/v2/openapi.json", None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    doc
}

/// `(METHOD, path with {} for parameters)` of every operation in `doc`.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), normalize(path)));
            }
        }
    }
    out
}

fn served(sandbox: bool) -> BTreeSet<(String, String)> {
    stableport_server::api::route_table(sandbox)
        .into_iter()
        .map(|(m, p)| (m, normalize(&p)))
        .collect()
}

async fn documents_exactly_the_routes_served(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let doc = document(&server).await;
    assert_eq!(operations(&doc), served(true));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));

    // Paxos's operations and schemas are Paxos's, unchanged.
    let paxos = paxos_spec();
    let mut paxos_ops = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let theirs = path.strip_prefix("/v2").and_then(|p| paxos["paths"].get(p));
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            match theirs.and_then(|t| t.get(method)) {
                Some(original) => {
                    assert_eq!(op, original, "{method} {path} differs from Paxos's spec");
                    paxos_ops += 1;
                }
                None => {
                    assert_eq!(op["x-stableport"], true, "{method} {path} is ours: mark it");
                    assert_eq!(
                        op["tags"],
                        serde_json::json!(["Stableport"]),
                        "{method} {path}"
                    );
                }
            }
        }
    }
    assert!(paxos_ops >= 34, "Paxos operations served: {paxos_ops}");
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        match paxos["components"]["schemas"].get(name) {
            Some(original) => assert_eq!(schema, original, "schema {name} differs from Paxos's"),
            None => assert!(
                name.starts_with("Stableport"),
                "schema {name} is neither Paxos's nor named as ours"
            ),
        }
    }
    // Every reference resolves inside the document.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let pointer = reference.split('"').next().unwrap().trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {pointer}");
    }

    // Production has no sandbox routes, and its document says so.
    let mut production =
        TestServer::start_with(&db, |c| c.environment = Environment::Production).await;
    let doc = document(&production).await;
    assert_eq!(operations(&doc), served(false));
    assert!(operations(&doc)
        .iter()
        .all(|(_, p)| !p.starts_with("/v2/sandbox")));
    assert!(served(false).len() < served(true).len());
    production.stop();
}

/// Each documented operation reaches a handler (never "no such route"), and
/// what it answers to an empty request is itself judged by the contract.
async fn every_documented_route_answers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let doc = document(&server).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for (method, path) in operations(&doc) {
        let concrete = path.replace("{}", &unknown);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method == Method::POST || method == Method::PUT)
            .then(|| ("application/json", b"{}".to_vec()));
        let (status, _, answer) = client.raw(method.clone(), &concrete, body).await.unwrap();
        assert!(
            !(status == 404 && answer["detail"] == "no such route") && status != 405,
            "{method} {concrete}: {status} {answer}"
        );
    }
}

async fn docs_render_in_a_browser(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let (status, content_type, _) = server
        .anonymous()
        .raw(Method::GET, "/docs/redoc.standalone.js", None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(content_type.unwrap().starts_with("text/javascript"));

    let chromium =
        std::env::var("STABLEPORT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}/docs", server.url);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--virtual-time-budget=15000",
                &format!("--user-data-dir={}", profile.path().display()),
                "--dump-dom",
                &url,
            ])
            .output()
            .unwrap_or_else(|e| {
                panic!("{chromium} is required for the docs test (scripts/test installs it): {e}")
            })
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    // Redoc has fetched /v2/openapi.json and rendered operations from both parts.
    for needle in [
        "Create Stablecoin Conversion",
        "List Orchestrations",
        "Stableport API",
        "Create a webhook",
    ] {
        assert!(
            dom.contains(needle),
            "the rendered docs lack {needle:?}; DOM starts: {}",
            &dom[..dom.len().min(500)]
        );
    }
}
