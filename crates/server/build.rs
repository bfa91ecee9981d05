//! Turns the OpenAPI documents (YAML) into JSON at build time, and lists
//! where Paxos's spec answers an error as `application/json`: parsing
//! 600 KB of YAML at start cost tens of milliseconds and held megabytes for
//! the life of the process. JSON parses in a fraction of that, and only when
//! a route first needs the document.

use std::fmt::Write;
use std::path::{Path, PathBuf};

const METHODS: [&str; 5] = include!("src/api/common/spec_methods.in");

fn main() {
    println!("cargo::rerun-if-changed=src/api/common/spec_methods.in");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let paxos = to_json(
        &spec.join("paxos-v2-openapi-full.yaml"),
        &out.join("paxos-spec.json"),
    );
    to_json(
        &spec.join("stableport-openapi.yaml"),
        &out.join("our-spec.json"),
    );
    std::fs::write(out.join("json_problems.rs"), json_problems(&paxos))
        .expect("write json_problems.rs");
}

fn to_json(yaml: &Path, json: &Path) -> serde_json::Value {
    println!("cargo::rerun-if-changed={}", yaml.display());
    let text = std::fs::read_to_string(yaml).unwrap_or_else(|e| panic!("{}: {e}", yaml.display()));
    let value: serde_json::Value =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", yaml.display()));
    let bytes = serde_json::to_vec(&value).expect("a parsed document serializes");
    std::fs::write(json, bytes).unwrap_or_else(|e| panic!("{}: {e}", json.display()));
    value
}

/// `(METHOD, /v2 path, status)` of every error response the spec lists under
/// `application/json` and not `application/problem+json`.
fn json_problems(spec: &serde_json::Value) -> String {
    let mut rust = String::from("&[\n");
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            for (status, response) in item[method]["responses"].as_object().into_iter().flatten() {
                let content = &response["content"];
                let json_only = content.get("application/json").is_some()
                    && content.get("application/problem+json").is_none();
                if let (true, Ok(status)) = (json_only, status.parse::<u16>()) {
                    let method = method.to_ascii_uppercase();
                    let _ = writeln!(
                        rust,
                        "    ({method:?}, \"/v2{}\", {status}),",
                        path.escape_default()
                    );
                }
            }
        }
    }
    rust.push(']');
    rust
}
