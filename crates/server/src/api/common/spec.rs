//! Paxos's OpenAPI spec and our own document, built into the binary.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde_json::Value;

const PAXOS_SPEC: &str = include_str!("../../../../../spec/paxos-v2-openapi-full.yaml");
const OUR_SPEC: &str = include_str!("../../../../../spec/stableport-openapi.yaml");
pub const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Paxos's public v2 spec as published.
pub fn paxos_spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_norway::from_str(PAXOS_SPEC).expect("Paxos's spec parses"))
}

/// Our additions as written.
pub fn our_spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_norway::from_str(OUR_SPEC).expect("our spec parses"))
}

/// Where Paxos's spec lists an error of an operation as `application/json`
/// rather than `application/problem+json` (it uses both): `(METHOD, path with
/// {} for parameters, status)` of each. See `problem::spec_media_type`.
pub fn json_problems() -> &'static HashSet<(String, String, u16)> {
    static TABLE: OnceLock<HashSet<(String, String, u16)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashSet::new();
        let paths = paxos_spec()["paths"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (path, item) in paths {
            for method in METHODS {
                let responses = item[method]["responses"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for (status, response) in responses {
                    let content = &response["content"];
                    let json_only = content.get("application/json").is_some()
                        && content.get("application/problem+json").is_none();
                    if let (true, Ok(status)) = (json_only, status.parse::<u16>()) {
                        let key = normalize(&format!("/v2{path}"));
                        table.insert((method.to_ascii_uppercase(), key, status));
                    }
                }
            }
        }
        table
    })
}

/// `{id}` and `{profile_id}` are the same route.
pub fn normalize(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}
