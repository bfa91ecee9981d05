//! Paxos's OpenAPI spec and our own document, built into the binary (as
//! JSON, converted from the YAML by build.rs) and parsed on first use.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde_json::Value;

const PAXOS_SPEC: &str = include_str!(concat!(env!("OUT_DIR"), "/paxos-spec.json"));
const OUR_SPEC: &str = include_str!(concat!(env!("OUT_DIR"), "/our-spec.json"));
/// `(METHOD, /v2 path, status)`, read off Paxos's spec by build.rs.
const JSON_PROBLEMS: &[(&str, &str, u16)] = include!(concat!(env!("OUT_DIR"), "/json_problems.rs"));
pub const METHODS: [&str; 5] = include!("spec_methods.in");

/// Paxos's public v2 spec as published.
pub fn paxos_spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(PAXOS_SPEC).expect("Paxos's spec parses"))
}

/// Our additions as written.
pub fn our_spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(OUR_SPEC).expect("our spec parses"))
}

/// Where Paxos's spec lists an error of an operation as `application/json`
/// rather than `application/problem+json` (it uses both): `(METHOD, path with
/// {} for parameters, status)` of each. See `problem::spec_media_type`.
pub fn json_problems() -> &'static HashSet<(String, String, u16)> {
    static TABLE: OnceLock<HashSet<(String, String, u16)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (JSON_PROBLEMS.iter())
            .map(|&(method, path, status)| (method.to_string(), normalize(path), status))
            .collect()
    })
}

/// `{id}` and `{profile_id}` are the same route.
pub fn normalize(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Checks a request body (or part of one) against a schema of Paxos's spec:
/// only the fields it names, of their types and enums, nested objects with
/// their required fields. The error names the field's path. For the bodies
/// Stableport keeps as given (identity details), so what it stores is what
/// a generated client could send, and nothing else.
pub fn check_request(schema: &str, value: &Value, path: &str) -> Result<(), String> {
    let root = &paxos_spec()["components"]["schemas"][schema];
    if root.is_null() {
        return Err(format!("no schema {schema} in the spec"));
    }
    check_value(root, value, path, 0)
}

fn resolve(schema: &Value) -> &Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &paxos_spec()["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn check_value(schema: &Value, value: &Value, path: &str, depth: usize) -> Result<(), String> {
    let schema = resolve(schema);
    if depth > 8 {
        return Err(format!("{path}: nested too deeply"));
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            let names: Vec<String> = allowed
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            return Err(format!(
                "{path}: {value} is not one of {}",
                names.join(", ")
            ));
        }
    }
    let kind = schema["type"]
        .as_str()
        .unwrap_or(if schema["properties"].is_object() {
            "object"
        } else {
            ""
        });
    let fits = match kind {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !fits {
        return Err(format!("{path} must be of type {kind}"));
    }
    if schema["format"] == "date-time" && value.as_str().and_then(crate::time::parse).is_none() {
        return Err(format!("{path} must be an RFC 3339 date-time"));
    }
    match value {
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            check_value(&schema["items"], item, &format!("{path}[{i}]"), depth + 1)
        }),
        Value::Object(fields) => check_object(schema, fields, path, depth),
        _ => Ok(()),
    }
}

fn check_object(
    schema: &Value,
    fields: &serde_json::Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<(), String> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    let properties = schema["properties"].as_object();
    for (key, value) in fields {
        match properties.and_then(|p| p.get(key)) {
            Some(field) => check_value(field, value, &join(key), depth + 1)?,
            // A free-form object (metadata): string values, as everywhere.
            None if properties.is_none() => {
                if !value.is_string() {
                    return Err(format!("{} must be a string", join(key)));
                }
            }
            None => return Err(format!("{}: unknown field", join(key))),
        }
    }
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap_or_default();
        if !fields.contains_key(name) {
            return Err(format!("{} is required", join(name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_checked_field_by_field_against_the_spec() {
        let ok = json!({ "person_details": { "first_name": "Ada", "govt_id_type": "SSN",
            "address": { "address1": "1 Main St", "city": "NYC", "country": "USA", "province": "NY" } } });
        assert_eq!(check_request("CreateIdentityRequest", &ok, ""), Ok(()));
        let cases = [
            (
                json!({ "person_details": { "nickname": "x" } }),
                "person_details.nickname: unknown field",
            ),
            (
                json!({ "person_details": { "first_name": 7 } }),
                "person_details.first_name must be of type string",
            ),
            (
                json!({ "person_details": { "govt_id_type": "BADGE" } }),
                "person_details.govt_id_type: \"BADGE\" is not one of",
            ),
            (
                json!({ "person_details": { "address": { "address1": "x" } } }),
                "person_details.address.city is required",
            ),
            (
                json!({ "is_merchant": "yes" }),
                "is_merchant must be of type boolean",
            ),
        ];
        for (body, wanted) in cases {
            let error = check_request("CreateIdentityRequest", &body, "").unwrap_err();
            assert!(error.starts_with(wanted), "{error}");
        }
    }
}
