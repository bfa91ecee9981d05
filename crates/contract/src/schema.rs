//! OpenAPI 3.0 schema objects to JSON Schema 2020-12, strictly.

use serde_json::{json, Map, Value};

/// Keywords that document rather than constrain.
const DROPPED: &[&str] = &[
    "example",
    "examples",
    "nullable",
    "discriminator",
    "xml",
    "externalDocs",
];

/// Converts one OpenAPI 3.0 schema: `nullable` becomes a `null` type,
/// boolean `exclusiveMaximum`/`exclusiveMinimum` become numbers, and an
/// object with `properties` but no `additionalProperties` is closed.
pub fn to_json_schema(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        if DROPPED.contains(&key.as_str()) || key.starts_with("x-") {
            continue;
        }
        let converted = match key.as_str() {
            "properties" | "patternProperties" | "$defs" => map_values(value),
            "items" | "not" | "additionalProperties" | "contains" => to_json_schema(value),
            "allOf" | "anyOf" | "oneOf" => list_values(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    exclusive_bound(&mut out, "exclusiveMaximum", "maximum");
    exclusive_bound(&mut out, "exclusiveMinimum", "minimum");
    declare_required(&mut out);
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if object.get("nullable") == Some(&Value::Bool(true)) {
        return nullable(out);
    }
    Value::Object(out)
}

/// A field the schema requires but does not describe (Paxos's
/// `ListProfileBalancesResponse` requires `balances` yet names `items`) is
/// allowed, with any value: a client that checks `required` wants it, and a
/// client that reads `properties` ignores it.
fn declare_required(out: &mut Map<String, Value>) {
    let Some(Value::Array(required)) = out.get("required").cloned() else {
        return;
    };
    let Some(Value::Object(properties)) = out.get_mut("properties") else {
        return;
    };
    for name in required.iter().filter_map(Value::as_str) {
        properties.entry(name).or_insert_with(|| json!({}));
    }
}

fn map_values(value: &Value) -> Value {
    match value.as_object() {
        Some(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                .collect(),
        ),
        None => value.clone(),
    }
}

fn list_values(value: &Value) -> Value {
    match value.as_array() {
        Some(a) => Value::Array(a.iter().map(to_json_schema).collect()),
        None => value.clone(),
    }
}

/// OpenAPI 3.0: `maximum: 600, exclusiveMaximum: true`; 2020-12: `exclusiveMaximum: 600`.
fn exclusive_bound(out: &mut Map<String, Value>, exclusive: &str, bound: &str) {
    match out.get(exclusive) {
        Some(Value::Bool(true)) => {
            let limit = out.remove(bound).unwrap_or(Value::Null);
            out.insert(exclusive.into(), limit);
        }
        Some(Value::Bool(false)) => {
            out.remove(exclusive);
        }
        _ => {}
    }
}

fn nullable(mut out: Map<String, Value>) -> Value {
    if let Some(Value::Array(values)) = out.get_mut("enum") {
        values.push(Value::Null);
    }
    match out.get("type").cloned() {
        Some(Value::String(t)) => {
            out.insert("type".into(), json!([t, "null"]));
            Value::Object(out)
        }
        Some(_) => Value::Object(out),
        None => json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_objects_and_keeps_declared_maps_open() {
        let s = to_json_schema(&json!({
            "type": "object",
            "properties": { "a": { "type": "string" },
                            "m": { "type": "object", "additionalProperties": { "type": "string" } } }
        }));
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(
            s["properties"]["m"]["additionalProperties"]["type"],
            "string"
        );
    }

    #[test]
    fn nullable_admits_null_and_only_then() {
        let s = to_json_schema(&json!({ "type": "string", "nullable": true }));
        assert_eq!(s["type"], json!(["string", "null"]));
        let s = to_json_schema(&json!({ "type": "string", "enum": ["A"], "nullable": true }));
        assert_eq!(s["enum"], json!(["A", null]));
        assert_eq!(
            to_json_schema(&json!({ "type": "string" }))["type"],
            "string"
        );
    }

    #[test]
    fn boolean_exclusive_bounds_become_numbers() {
        let s =
            to_json_schema(&json!({ "type": "integer", "maximum": 600, "exclusiveMaximum": true }));
        assert_eq!(s["exclusiveMaximum"], 600);
        assert!(s.get("maximum").is_none());
    }

    #[test]
    fn property_names_are_not_keywords() {
        let s = to_json_schema(&json!({ "properties": { "example": { "type": "string" } } }));
        assert_eq!(s["properties"]["example"]["type"], "string");
    }
}
