//! The OpenAPI document we serve at `/v2/openapi.json`, and `/docs` to read
//! it. Paxos's operations that we implement are copied from Paxos's public
//! spec unchanged, with every schema they use; our additions come from
//! `spec/stableport-openapi.yaml`, tagged `Stableport` and marked
//! `x-stableport: true`. Only routes this server really serves are listed
//! (no `/v2/sandbox` ones in production). Paths carry their `/v2` prefix so
//! one document covers `/oauth2/token` too.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::api::common::spec::{normalize, our_spec, paxos_spec, METHODS};
use crate::state::AppState;

const REDOC_JS: &str = include_str!("../../assets/redoc/redoc.standalone.js");

/// The document for a server in sandbox mode or not, serialized once.
/// `routes` are the server's own (`App::routes`), which depend only on the mode.
pub fn document_bytes(sandbox: bool, routes: &[(String, String)]) -> &'static [u8] {
    static DOCS: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    DOCS[usize::from(sandbox)]
        .get_or_init(|| serde_json::to_vec(&document(routes)).expect("document serializes"))
}

pub async fn openapi_json(axum::extract::State(app): axum::extract::State<AppState>) -> Response {
    let bytes = document_bytes(app.config.is_sandbox(), &app.routes);
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

pub async fn docs_page() -> Html<&'static str> {
    Html(concat!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Stableport API</title>",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<style>body{margin:0;padding:0}</style></head><body>",
        "<redoc spec-url=\"/v2/openapi.json\"></redoc>",
        "<script src=\"/docs/redoc.standalone.js\"></script></body></html>"
    ))
}

pub async fn redoc_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        REDOC_JS,
    )
        .into_response()
}

/// Builds the document for these `(METHOD, full path)` routes.
pub fn document(routes: &[(String, String)]) -> Value {
    let served: HashSet<(String, String)> = routes
        .iter()
        .map(|(m, p)| (m.to_ascii_lowercase(), normalize(p)))
        .collect();
    let paxos = paxos_spec();
    let ours = our_spec();
    let mut paths = Map::new();
    copy_served(paxos, "/v2", &served, &mut paths);
    copy_served(ours, "", &served, &mut paths);

    let mut components = Map::new();
    for kind in [
        "schemas",
        "responses",
        "examples",
        "parameters",
        "requestBodies",
    ] {
        components.insert(kind.into(), Value::Object(Map::new()));
    }
    // Our additions may use Paxos's schemas (Problem, StablecoinConversion, ...) too.
    let users = json!([paths, ours.get("components")]);
    copy_referenced(paxos, &users, &mut components);
    if let Some(schemas) = ours
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        let out = components["schemas"].as_object_mut().expect("a map");
        out.extend(schemas.clone());
    }
    components.insert("securitySchemes".into(), security_schemes(paxos, ours));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Stableport API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Paxos's v2 stablecoin API as Stableport serves it. Operations tagged \
                `Stableport` (and marked `x-stableport: true`) are Stableport's additions; every \
                other operation and schema is copied unchanged from Paxos's public OpenAPI.",
        },
        "servers": [{ "url": "/" }],
        "tags": tags(paxos, ours, &paths),
        "paths": paths,
        "components": components,
    })
}

fn copy_served(
    doc: &Value,
    prefix: &str,
    served: &HashSet<(String, String)>,
    out: &mut Map<String, Value>,
) {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return;
    };
    for (path, item) in paths {
        let full = format!("{prefix}{path}");
        let key = normalize(&full);
        let mut kept = Map::new();
        for (name, value) in item.as_object().into_iter().flatten() {
            let is_method = METHODS.contains(&name.as_str());
            if !is_method || served.contains(&(name.clone(), key.clone())) {
                kept.insert(name.clone(), value.clone());
            }
        }
        if kept.keys().any(|k| METHODS.contains(&k.as_str())) {
            out.insert(full, Value::Object(kept));
        }
    }
}

/// Copies every component the operations refer to, transitively.
fn copy_referenced(doc: &Value, from: &Value, components: &mut Map<String, Value>) {
    let mut pending = Vec::new();
    refs(from, &mut pending);
    let mut seen = BTreeSet::new();
    while let Some(reference) = pending.pop() {
        if !seen.insert(reference.clone()) {
            continue;
        }
        let Some(target) = doc.pointer(reference.trim_start_matches('#')) else {
            continue;
        };
        refs(target, &mut pending);
        let mut parts = reference.trim_start_matches("#/components/").splitn(2, '/');
        let (Some(kind), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some(Value::Object(out)) = components.get_mut(kind) {
            out.insert(name.to_string(), target.clone());
        }
    }
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// Paxos's OAuth2 scheme with our scopes added and our token URL.
fn security_schemes(paxos: &Value, ours: &Value) -> Value {
    let mut scheme = paxos
        .pointer("/components/securitySchemes/OAuth2")
        .cloned()
        .unwrap_or_else(|| json!({ "type": "oauth2", "flows": { "clientCredentials": {} } }));
    let flow = &mut scheme["flows"]["clientCredentials"];
    flow["tokenUrl"] = json!("/oauth2/token");
    let our_scopes = ours
        .pointer("/components/securitySchemes/OAuth2/flows/clientCredentials/scopes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(scopes) = flow["scopes"].as_object_mut() {
        scopes.extend(our_scopes);
    }
    json!({ "OAuth2": scheme })
}

fn tags(paxos: &Value, ours: &Value, paths: &Map<String, Value>) -> Value {
    let used: HashSet<&str> = paths
        .values()
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|op| op.get("tags").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let all = [paxos, ours]
        .into_iter()
        .filter_map(|d| d.get("tags").and_then(Value::as_array))
        .flatten();
    let kept: Vec<Value> = all
        .filter(|t| t["name"].as_str().is_some_and(|n| used.contains(n)))
        .cloned()
        .collect();
    Value::Array(kept)
}
