//! The wire contract as a judge: every response a test receives is checked
//! against the OpenAPI operation it answers. Paxos's public spec describes
//! Paxos's operations; our own document (`spec/stableport-openapi.yaml`)
//! describes our additions. Both are OpenAPI 3.0, turned here into JSON
//! Schema 2020-12 with two rules a generated client enforces:
//! - a field is `null` only where the schema says `nullable`;
//! - objects are closed: a field the schema does not name (say a list under
//!   `items` where the spec says `orchestrations`) is a violation.

mod schema;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonschema::Validator;
use serde_json::{json, Map, Value};

pub use schema::to_json_schema;

/// One HTTP exchange as the client saw it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    pub method: &'a str,
    /// The URL path, without query string.
    pub path: &'a str,
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Which document an operation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Paxos,
    Stableport,
}

struct Operation {
    id: String,
    method: String,
    template: String,
    segments: Vec<Option<String>>,
    source: Source,
    responses: Map<String, Value>,
}

pub struct Contract {
    operations: Vec<Operation>,
    /// `{"components": {"schemas": …}}`: the root every `$ref` resolves in.
    root: Value,
    raw_responses: Map<String, Value>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

const PROBLEM_REF: &str = "#/components/schemas/Problem";

impl Contract {
    /// `paxos` is Paxos's v2 spec (paths relative to `/v2`); `ours` has full
    /// paths. Both as parsed JSON values.
    pub fn new(paxos: &Value, ours: &Value) -> Contract {
        let mut operations = Vec::new();
        collect_operations(paxos, "/v2", Source::Paxos, &mut operations);
        collect_operations(ours, "", Source::Stableport, &mut operations);
        let mut schemas = Map::new();
        let mut raw_responses = Map::new();
        for doc in [paxos, ours] {
            if let Some(all) = doc
                .pointer("/components/schemas")
                .and_then(Value::as_object)
            {
                for (name, s) in all {
                    schemas.insert(name.clone(), to_json_schema(s));
                }
            }
            if let Some(all) = doc
                .pointer("/components/responses")
                .and_then(Value::as_object)
            {
                raw_responses.extend(all.clone());
            }
        }
        Contract {
            operations,
            root: json!({ "components": { "schemas": schemas } }),
            raw_responses,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// A knowing deviation from the spec: `value` is accepted in the enum of
    /// component schema `schema` (e.g. STELLAR in `CryptoNetwork`). Each
    /// one is listed in the README.
    pub fn allow_enum_value(mut self, schema: &str, value: &str) -> Contract {
        if let Some(Value::Array(values)) = self
            .root
            .pointer_mut(&format!("/components/schemas/{schema}/enum"))
        {
            values.push(Value::String(value.to_string()));
        }
        self
    }

    /// A knowing addition: component schema `schema` may carry `property`
    /// (e.g. `next_page_cursor` on `ListEventsResponse`). Listed in the README.
    pub fn allow_property(mut self, schema: &str, property: &str, definition: Value) -> Contract {
        let pointer = format!("/components/schemas/{schema}/properties");
        if let Some(Value::Object(properties)) = self.root.pointer_mut(&pointer) {
            properties.insert(property.to_string(), definition);
        }
        self
    }

    /// Reads Paxos's YAML spec and our YAML document from disk.
    pub fn from_files(paxos: &std::path::Path, ours: &std::path::Path) -> Contract {
        Contract::new(&read_yaml(paxos), &read_yaml(ours))
    }

    /// The project's contract: `spec/`'s Paxos spec and our document, with
    /// the knowing deviations the README lists ("Where we differ from the spec").
    pub fn stableport() -> Contract {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec");
        Contract::from_files(
            &spec.join("paxos-v2-openapi-full.yaml"),
            &spec.join("stableport-openapi.yaml"),
        )
        .allow_enum_value("CryptoNetwork", "STELLAR")
        .allow_property(
            "ListEventsResponse",
            "next_page_cursor",
            json!({ "type": "string" }),
        )
    }

    /// The operation (id and source) that `method path` answers to.
    pub fn operation(&self, method: &str, path: &str) -> Option<(&str, Source)> {
        self.find(method, path)
            .map(|op| (op.id.as_str(), op.source))
    }

    /// Checks one response; the error says what a generated client would trip on.
    pub fn check(&self, ex: &Exchange) -> Result<(), String> {
        let content_type = ex.content_type.map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let Some(op) = self.find(ex.method, ex.path) else {
            return self.check_unrouted(ex, content_type.as_deref());
        };
        if ex.status >= 500 && ex.status != 503 {
            return Err(format!("{}: server error {}", op.id, ex.status));
        }
        let status = ex.status.to_string();
        let response = match op.responses.get(&status).or(op.responses.get("default")) {
            Some(r) => self.resolve_response(r),
            None if ex.status >= 400 => problem_response(),
            None => return Err(format!("{}: status {status} is not in the spec", op.id)),
        };
        self.check_content(&op.id, &status, &response, content_type.as_deref(), ex.body)
    }

    fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let segments: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method) && matches(op, &segments))
            // The most literal template wins: `/profiles/{id}/balances` over `/profiles/{id}/{x}`.
            .max_by_key(|op| op.segments.iter().filter(|s| s.is_some()).count())
    }

    /// A path no operation has: only a 404 or 405 problem is acceptable.
    fn check_unrouted(&self, ex: &Exchange, content_type: Option<&str>) -> Result<(), String> {
        let segments: Vec<&str> = ex.path.split('/').collect();
        let known_path = self.operations.iter().any(|op| matches(op, &segments));
        let expected = if known_path { 405 } else { 404 };
        if ex.status != expected {
            return Err(format!(
                "{} {}: no operation in the spec, yet answered {} (expected a {expected} problem)",
                ex.method, ex.path, ex.status
            ));
        }
        self.check_content(
            "unrouted",
            &ex.status.to_string(),
            &problem_response(),
            content_type,
            ex.body,
        )
    }

    fn resolve_response(&self, response: &Value) -> Value {
        match response.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or_default();
                self.raw_responses.get(name).cloned().unwrap_or(Value::Null)
            }
            None => response.clone(),
        }
    }

    fn check_content(
        &self,
        op: &str,
        status: &str,
        response: &Value,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), String> {
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return Ok(()); // The spec promises no body.
        };
        let Some(content_type) = content_type else {
            return Err(format!("{op} {status}: no Content-Type"));
        };
        let Some((media, schema)) = pick_media(content, content_type) else {
            return Err(format!(
                "{op} {status}: Content-Type {content_type} where the spec has {:?}",
                content.keys().collect::<Vec<_>>()
            ));
        };
        if !media.ends_with("json") {
            return Ok(());
        }
        let instance: Value = serde_json::from_slice(body).map_err(|e| {
            format!(
                "{op} {status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        })?;
        let Some(schema) = schema else {
            return Ok(());
        };
        let validator = self.validator(&format!("{op} {status} {media}"), schema)?;
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .take(5)
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{op} {status}: response does not match the spec's schema:\n  {}\nbody: {instance}",
            errors.join("\n  ")
        ))
    }

    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(key) {
            return Ok(v.clone());
        }
        let mut root = self.root.clone();
        root["$ref"] = json!("#/$defs/response");
        root["$defs"] = json!({ "response": to_json_schema(schema) });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("{key}: the spec's schema does not compile: {e}"))?;
        let validator = Arc::new(validator);
        cache.insert(key.to_string(), validator.clone());
        Ok(validator)
    }
}

/// Reads a YAML (or JSON) document into a JSON value.
pub fn read_yaml(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn collect_operations(doc: &Value, prefix: &str, source: Source, out: &mut Vec<Operation>) {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return;
    };
    for (path, item) in paths {
        let template = format!("{prefix}{path}");
        let segments: Vec<Option<String>> = template
            .split('/')
            .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
            .collect();
        for method in ["get", "put", "post", "delete", "patch"] {
            let Some(op) = item.get(method) else { continue };
            out.push(Operation {
                id: op["operationId"].as_str().unwrap_or(&template).to_string(),
                method: method.to_ascii_uppercase(),
                template: template.clone(),
                segments: segments.clone(),
                source,
                responses: op["responses"].as_object().cloned().unwrap_or_default(),
            });
        }
    }
}

fn matches(op: &Operation, segments: &[&str]) -> bool {
    op.segments.len() == segments.len()
        && op.segments.iter().zip(segments).all(|(t, s)| {
            t.as_deref().is_none_or(|lit| lit == *s) && (t.is_some() || !s.is_empty())
        })
}

/// An error status the operation does not list: every Paxos error is a Problem.
fn problem_response() -> Value {
    json!({ "content": { "application/problem+json": { "schema": { "$ref": PROBLEM_REF } } } })
}

/// The spec's media type for the response's Content-Type, exactly: Paxos
/// lists some operations' Problems as `application/json` and others as
/// `application/problem+json`, and a generated client goes by that.
fn pick_media<'a>(
    content: &'a Map<String, Value>,
    content_type: &str,
) -> Option<(&'a str, Option<&'a Value>)> {
    let (media, body) = content.get_key_value(content_type)?;
    Some((media.as_str(), body.get("schema")))
}

impl Contract {
    /// Templates of every operation, for coverage reports.
    pub fn templates(&self) -> Vec<(String, String, Source)> {
        self.operations
            .iter()
            .map(|op| (op.method.clone(), op.template.clone(), op.source))
            .collect()
    }
}
