//! The judge itself is judged: responses that a generated Paxos client
//! trips on must be refused, and well-formed ones accepted.

use std::sync::OnceLock;

use serde_json::{json, Value};
use stableport_contract::{Contract, Exchange};

fn contract() -> &'static Contract {
    static C: OnceLock<Contract> = OnceLock::new();
    C.get_or_init(|| {
        let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/");
        Contract::from_files(
            format!("{spec}paxos-v2-openapi-full.yaml").as_ref(),
            format!("{spec}stableport-openapi.yaml").as_ref(),
        )
    })
}

fn check(
    method: &str,
    path: &str,
    status: u16,
    content_type: &str,
    body: &Value,
) -> Result<(), String> {
    let bytes = body.to_string();
    contract().check(&Exchange {
        method,
        path,
        status,
        content_type: Some(content_type),
        body: bytes.as_bytes(),
    })
}

fn orchestration() -> Value {
    json!({
        "id": "o1", "profile_id": "p1", "customer_id": "c1", "ref_id": "r1",
        "source_asset": "USD", "destination_asset": "USDC", "source_amount": "10",
        "status": "PROCESSING",
        "source_transfer": { "transfer_id": "t1", "status": "COMPLETED" },
        "destination_transfer": { "transfer_id": "t2", "status": "PENDING" },
        "source": { "profile": { "profile_id": "p1" } },
        "destination": { "profile": { "profile_id": "p2" } },
        "created_at": "2026-01-07T14:30:02.123456Z", "updated_at": "2026-01-07T14:30:02.123456Z"
    })
}

#[test]
fn a_list_under_the_wrong_key_is_refused() {
    let path = "/v2/orchestration/orchestrations";
    let wrong = json!({ "items": [orchestration()] });
    let err = check("GET", path, 200, "application/json", &wrong).unwrap_err();
    assert!(err.contains("'items' was unexpected"), "{err}");
    let right = json!({ "orchestrations": [orchestration()], "next_page_cursor": "x" });
    check("GET", path, 200, "application/json", &right).unwrap();
}

#[test]
fn null_is_refused_where_the_schema_has_a_string() {
    let mut o = orchestration();
    o["destination"] = json!({ "fiat": { "bank_account_id": "b1", "memo": null } });
    let err = check(
        "GET",
        "/v2/orchestration/orchestrations/o1",
        200,
        "application/json",
        &o,
    )
    .unwrap_err();
    assert!(err.contains("memo"), "{err}");
}

#[test]
fn enums_are_closed() {
    let address = |network: &str| json!({ "address": { "id": "a1", "address": "0xabc", "crypto_network": network } });
    let path = "/v2/transfer/crypto-destination-address";
    let err = check("PUT", path, 200, "application/json", &address("POLYGON")).unwrap_err();
    assert!(err.contains("POLYGON"), "{err}");
    check(
        "PUT",
        path,
        200,
        "application/json",
        &address("POLYGON_POS"),
    )
    .unwrap();
    assert!(check("PUT", path, 200, "application/json", &address("STELLAR")).is_err());
    let lenient = Contract::from_files(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../spec/paxos-v2-openapi-full.yaml"
        )
        .as_ref(),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../spec/stableport-openapi.yaml"
        )
        .as_ref(),
    )
    .allow_enum_value("CryptoNetwork", "STELLAR");
    let body = address("STELLAR").to_string();
    let exchange = Exchange {
        method: "PUT",
        path,
        status: 200,
        content_type: Some("application/json"),
        body: body.as_bytes(),
    };
    lenient.check(&exchange).unwrap();
}

#[test]
fn required_fields_must_be_present() {
    let err = check(
        "GET",
        "/v2/profiles/p1",
        200,
        "application/json",
        &json!({ "id": "p1", "type": "NORMAL" }),
    )
    .unwrap_err();
    assert!(err.contains("nickname"), "{err}");
}

#[test]
fn errors_must_be_problems() {
    let problem =
        json!({ "type": "about:blank", "title": "Not Found", "status": 404, "detail": "no" });
    let path = "/v2/profiles/p1";
    // Not listed for the operation: judged as a Problem, in either media type.
    check("GET", path, 404, "application/problem+json", &problem).unwrap();
    let err = check(
        "GET",
        path,
        404,
        "application/problem+json",
        &json!({ "error": "x" }),
    )
    .unwrap_err();
    assert!(err.contains("error"), "{err}");
    // Listed as application/json in the spec: that is what a client expects.
    let conversion = "/v2/conversion/stablecoins/c1";
    check("GET", conversion, 404, "application/json", &problem).unwrap();
    let err = check("GET", conversion, 404, "application/problem+json", &problem).unwrap_err();
    assert!(err.contains("Content-Type"), "{err}");
    let err = check("GET", path, 404, "text/plain", &problem).unwrap_err();
    assert!(err.contains("Content-Type"), "{err}");
}

#[test]
fn server_errors_and_unknown_routes_are_violations() {
    let problem = json!({ "type": "about:blank", "title": "x", "status": 500, "detail": "x" });
    assert!(check(
        "GET",
        "/v2/profiles",
        500,
        "application/problem+json",
        &problem
    )
    .is_err());
    let err = check(
        "GET",
        "/v2/nothing-here",
        200,
        "application/json",
        &json!({}),
    )
    .unwrap_err();
    assert!(err.contains("no operation"), "{err}");
    let missing = json!({ "type": "about:blank", "title": "Not Found", "status": 404, "detail": "no such route" });
    check(
        "GET",
        "/v2/nothing-here",
        404,
        "application/problem+json",
        &missing,
    )
    .unwrap();
    // A known path with a method it lacks must be a 405.
    assert!(check(
        "PATCH",
        "/v2/profiles",
        404,
        "application/problem+json",
        &missing
    )
    .is_err());
}

#[test]
fn our_additions_are_judged_by_our_document() {
    let ok = json!({ "status": "ok" });
    check("GET", "/health", 200, "application/json", &ok).unwrap();
    assert!(check(
        "GET",
        "/health",
        200,
        "application/json",
        &json!({ "status": 1 })
    )
    .is_err());
    let (id, source) = contract().operation("GET", "/v2/webhooks").unwrap();
    assert_eq!(
        (id, source),
        ("ListWebhooks", stableport_contract::Source::Stableport)
    );
}
