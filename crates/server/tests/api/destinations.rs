//! Fiat accounts and crypto destination addresses.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use stableport_client::{
    Client, CreateFiatAccount, CryptoDestinationAddress, CubixInstructions, FiatAccount,
    FiatAccountOwner, FiatNetworkInstructions, ListCryptoAddresses, ListFiatAccounts,
    MailingAddress, PutCryptoAddress, SandboxFiatAccount, TravelruleMetadata, UpdateFiatAccount,
    UpdateFiatNetworkInstructions, UpdateRoutingDetails, UpdateWire, Vasp, WireInstructions,
    WireRoutingDetails,
};
use stableport_server::Environment;
use stableport_store::DestinationStore;
use uuid::Uuid;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    wire_aba_account_lifecycle,
    swift_iban_and_cubix_accounts,
    refuses_bad_fiat_accounts,
    refuses_bad_fiat_account_updates,
    approves_after_the_delay,
    sandbox_controls_fiat_accounts,
    refuses_a_repeated_fiat_ref_id,
    filters_and_pages_fiat_accounts,
    checks_destination_scopes,
    isolates_customers,
    puts_and_updates_crypto_addresses,
    refuses_bad_crypto_addresses,
    filters_and_pages_crypto_addresses,
    sandbox_controls_crypto_addresses,
    production_has_no_destination_sandbox,
);

const ETH: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const SOLANA: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const STELLAR: &str = "GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN7";
const FIAT_ACCOUNTS: &str = "/v2/transfer/fiat-accounts";
const PUT_ADDRESS: &str = "/v2/transfer/crypto-destination-address";
const ADDRESSES: &str = "/v2/transfer/crypto-destination-addresses";

fn mailing_address(country: &str, city: &str) -> MailingAddress {
    MailingAddress {
        country: country.into(),
        address1: Some("456 Main Street".into()),
        city: Some(city.into()),
        zip_code: Some("10101".into()),
        ..Default::default()
    }
}

pub(crate) fn wire_aba() -> CreateFiatAccount {
    CreateFiatAccount {
        fiat_account_owner: FiatAccountOwner::person("Jane", "Doe"),
        fiat_network_instructions: FiatNetworkInstructions {
            wire: Some(WireInstructions {
                account_number: "12345678".into(),
                fiat_account_owner_address: Some(mailing_address("USA", "New York")),
                routing_details: WireRoutingDetails {
                    routing_number_type: "ABA".into(),
                    routing_number: "021000021".into(),
                    bank_name: "JPMorgan Chase".into(),
                    bank_address: Some(mailing_address("USA", "New York")),
                },
                intermediary_routing_details: None,
            }),
            cubix: None,
        },
        ..Default::default()
    }
}

fn wire_swift_iban() -> CreateFiatAccount {
    CreateFiatAccount {
        fiat_account_owner: FiatAccountOwner::institution("Big Tech GmbH"),
        fiat_network_instructions: FiatNetworkInstructions {
            wire: Some(WireInstructions {
                account_number: "DE89 3704 0044 0532 0130 00".into(),
                fiat_account_owner_address: Some(mailing_address("DEU", "Berlin")),
                routing_details: WireRoutingDetails {
                    routing_number_type: "SWIFT".into(),
                    routing_number: "DEUTDEFF".into(),
                    bank_name: "Deutsche Bank".into(),
                    bank_address: Some(mailing_address("DEU", "Frankfurt")),
                },
                intermediary_routing_details: Some(WireRoutingDetails {
                    routing_number_type: "SWIFT".into(),
                    routing_number: "CHASUS33XXX".into(),
                    bank_name: "JPMorgan Chase".into(),
                    bank_address: Some(mailing_address("USA", "New York")),
                }),
            }),
            cubix: None,
        },
        ..Default::default()
    }
}

fn cubix(account_id: &str) -> CreateFiatAccount {
    CreateFiatAccount {
        fiat_account_owner: FiatAccountOwner::institution("Exchange Ltd"),
        fiat_network_instructions: FiatNetworkInstructions {
            wire: None,
            cubix: Some(CubixInstructions {
                account_id: account_id.into(),
            }),
        },
        ..Default::default()
    }
}

fn wire_of(account: &FiatAccount) -> &WireInstructions {
    account
        .fiat_network_instructions
        .wire
        .as_ref()
        .expect("a wire account")
}

fn customer_of(server: &TestServer) -> Uuid {
    server.customer_id.parse().unwrap()
}

async fn send_json(
    client: &Client,
    method: Method,
    path: &str,
    body: &Value,
) -> (reqwest::StatusCode, Option<String>, Value) {
    client
        .raw(
            method,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
        .unwrap()
}

async fn wire_aba_account_lifecycle(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;

    let identity = Uuid::new_v4().to_string();
    let metadata = BTreeMap::from([("purpose".to_string(), "payroll".to_string())]);
    let request = CreateFiatAccount {
        ref_id: Some("acct-1".into()),
        identity_id: Some(identity.clone()),
        metadata: Some(metadata.clone()),
        ..wire_aba()
    };
    let created = client.create_fiat_account(&request).await.unwrap();
    // The default approval delay is 0s: approved in the response itself.
    assert_eq!(created.status, "APPROVED");
    assert_eq!(created.ref_id.as_deref(), Some("acct-1"));
    assert_eq!(created.identity_id.as_deref(), Some(identity.as_str()));
    assert_eq!(created.account_id, None);
    assert_eq!(created.metadata, Some(metadata));
    assert_eq!(
        created.fiat_account_owner,
        FiatAccountOwner::person("Jane", "Doe")
    );
    assert_eq!(
        created.fiat_network_instructions,
        request.fiat_network_instructions
    );
    assert!(created.created_at.ends_with('Z') && created.updated_at == created.created_at);
    assert_eq!(client.fiat_account(&created.id).await.unwrap(), created);

    // The exact wire shape, field by field.
    let (status, _, raw) = client
        .raw(
            Method::GET,
            &format!("{FIAT_ACCOUNTS}/{}", created.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        raw["fiat_network_instructions"],
        json!({ "wire": {
            "account_number": "12345678",
            "fiat_account_owner_address": { "country": "USA", "address1": "456 Main Street", "city": "New York", "zip_code": "10101" },
            "routing_details": {
                "routing_number_type": "ABA", "routing_number": "021000021", "bank_name": "JPMorgan Chase",
                "bank_address": { "country": "USA", "address1": "456 Main Street", "city": "New York", "zip_code": "10101" }
            }
        }})
    );
    assert_eq!(
        raw["fiat_account_owner"],
        json!({ "person_details": { "first_name": "Jane", "last_name": "Doe" } })
    );

    // The list abbreviates: no names, addresses cut to their country, last
    // four digits. (Paxos's example shows nulls; its schema requires objects.)
    let listed = client
        .list_fiat_accounts(&ListFiatAccounts::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let short = &listed.items[0];
    assert_eq!(short.id, created.id);
    assert_eq!(short.status, "APPROVED");
    assert_eq!(short.fiat_account_owner, FiatAccountOwner::default());
    let short_wire = wire_of(short);
    assert_eq!(short_wire.account_number, "XXXX5678");
    let country_only = |c: &str| MailingAddress {
        country: c.into(),
        ..MailingAddress::default()
    };
    assert_eq!(
        short_wire.fiat_account_owner_address,
        Some(country_only("USA"))
    );
    assert_eq!(
        short_wire.routing_details.bank_address,
        Some(country_only("USA"))
    );
    assert_eq!(short_wire.routing_details.routing_number, "021000021");
    let (_, _, raw_list) = client.raw(Method::GET, FIAT_ACCOUNTS, None).await.unwrap();
    assert_eq!(raw_list["items"][0]["fiat_account_owner"], json!({}));

    // Update: names, an address part, the bank name, metadata merged.
    let updated = client
        .update_fiat_account(
            &created.id,
            &UpdateFiatAccount {
                fiat_account_owner: Some(FiatAccountOwner::person("Janet", "")),
                fiat_network_instructions: Some(UpdateFiatNetworkInstructions {
                    wire: Some(UpdateWire {
                        fiat_account_owner_address: Some(MailingAddress {
                            country: String::new(),
                            city: Some("Brooklyn".into()),
                            ..Default::default()
                        }),
                        routing_details: Some(UpdateRoutingDetails {
                            bank_name: Some("Chase".into()),
                            bank_address: None,
                        }),
                        intermediary_routing_details: None,
                    }),
                }),
                metadata: Some(BTreeMap::from([("team".to_string(), "ops".to_string())])),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.status, "APPROVED");
    assert_eq!(
        updated.fiat_account_owner,
        FiatAccountOwner::person("Janet", "Doe")
    );
    let wire = wire_of(&updated);
    let owner_address = wire.fiat_account_owner_address.clone().unwrap();
    assert_eq!(
        (
            owner_address.country.as_str(),
            owner_address.city.as_deref()
        ),
        ("USA", Some("Brooklyn"))
    );
    assert_eq!(owner_address.address1.as_deref(), Some("456 Main Street"));
    assert_eq!(wire.routing_details.bank_name, "Chase");
    assert_eq!(wire.account_number, "12345678");
    assert_eq!(
        updated.metadata.as_ref().map(|m| m.len()),
        Some(2),
        "{:?}",
        updated.metadata
    );
    assert!(updated.updated_at > updated.created_at);
    assert_eq!(client.fiat_account(&created.id).await.unwrap(), updated);

    // Delete: gone from reads and lists, unless deleted ones are asked for.
    client.delete_fiat_account(&created.id).await.unwrap();
    let gone = format!(
        "fiat account with id {} not found for customer with id {}",
        created.id, server.customer_id
    );
    problem(client.fiat_account(&created.id).await, 404, &gone);
    problem(client.delete_fiat_account(&created.id).await, 404, &gone);
    problem(
        client
            .update_fiat_account(
                &created.id,
                &UpdateFiatAccount {
                    metadata: Some(BTreeMap::from([("a".to_string(), "b".to_string())])),
                    ..Default::default()
                },
            )
            .await,
        404,
        &gone,
    );
    assert!(client
        .list_fiat_accounts(&ListFiatAccounts::default())
        .await
        .unwrap()
        .items
        .is_empty());
    let deleted = client
        .fiat_account_including_deleted(&created.id)
        .await
        .unwrap();
    assert_eq!(deleted.id, created.id);
    let with_deleted = client
        .list_fiat_accounts(&ListFiatAccounts {
            include_deleted: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(with_deleted.items.len(), 1);

    // What the orchestrations code reads.
    let stored = db
        .store()
        .await
        .fiat_account(customer_of(&server), created.id.parse().unwrap())
        .await
        .unwrap()
        .expect("kept after delete");
    assert!(stored.deleted && !stored.is_usable());
    assert_eq!(stored.status.as_str(), "APPROVED");
    assert!(!stored.fail_withdrawals);
}

async fn swift_iban_and_cubix_accounts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;

    let swift = client
        .create_fiat_account(&wire_swift_iban())
        .await
        .unwrap();
    assert_eq!(swift.status, "APPROVED");
    assert_eq!(
        swift.fiat_account_owner,
        FiatAccountOwner::institution("Big Tech GmbH")
    );
    let wire = wire_of(&swift);
    // The IBAN is kept compact, as banks match it.
    assert_eq!(wire.account_number, "DE89370400440532013000");
    assert_eq!(wire.routing_details.routing_number_type, "SWIFT");
    assert_eq!(
        wire.intermediary_routing_details
            .as_ref()
            .map(|i| i.routing_number.as_str()),
        Some("CHASUS33XXX")
    );
    // A non-IBAN account number abroad is checked as a plain number.
    let mut plain = wire_swift_iban();
    plain
        .fiat_network_instructions
        .wire
        .as_mut()
        .unwrap()
        .account_number = "0012345678".into();
    client.create_fiat_account(&plain).await.unwrap();

    let cubix_id = Uuid::new_v4().to_string();
    let cubix_account = client.create_fiat_account(&cubix(&cubix_id)).await.unwrap();
    assert_eq!(cubix_account.status, "APPROVED");
    assert_eq!(
        cubix_account.fiat_network_instructions,
        FiatNetworkInstructions {
            wire: None,
            cubix: Some(CubixInstructions {
                account_id: cubix_id.clone()
            }),
        }
    );
    assert_eq!(
        client.fiat_account(&cubix_account.id).await.unwrap(),
        cubix_account
    );
    let listed = client
        .list_fiat_accounts(&ListFiatAccounts {
            ids: vec![cubix_account.id.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed.items[0].fiat_network_instructions.cubix,
        Some(CubixInstructions {
            account_id: cubix_id
        })
    );

    let store = db.store().await;
    let stored = store
        .fiat_account(customer_of(&server), cubix_account.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.network,
        stableport_domain::network::FiatNetwork::Cubix
    );
    assert!(stored.is_usable());
}

async fn refuses_bad_fiat_accounts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let aba = serde_json::to_value(wire_aba()).unwrap();
    let swift = serde_json::to_value(wire_swift_iban()).unwrap();
    let with = |base: &Value, pointer: &str, value: Value| {
        let mut body = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(parent).unwrap()[key] = value;
        body
    };
    let without = |base: &Value, pointer: &str| {
        let mut body = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        body
    };
    const ROUTING: &str = "/fiat_network_instructions/wire/routing_details";
    const ACCOUNT: &str = "/fiat_network_instructions/wire/account_number";
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&aba, &format!("{ROUTING}/routing_number"), json!("021000022")),
            "fiat_network_instructions.wire.routing_details.routing_number: ABA routing number '021000022' fails its checksum",
        ),
        (
            with(&aba, &format!("{ROUTING}/routing_number"), json!("12345")),
            "must be exactly 9 digits",
        ),
        (
            with(&swift, &format!("{ROUTING}/routing_number"), json!("DEUT1EFF")),
            "routing_details.routing_number: SWIFT/BIC code 'DEUT1EFF' must have a 2-letter country code",
        ),
        (
            with(
                &swift,
                "/fiat_network_instructions/wire/intermediary_routing_details/routing_number",
                json!("chasus33"),
            ),
            "intermediary_routing_details.routing_number: SWIFT/BIC code 'chasus33' must be upper case",
        ),
        (
            with(&swift, ACCOUNT, json!("DE89370400440532013001")),
            "fiat_network_instructions.wire.account_number: IBAN fails its check digits",
        ),
        (
            with(&aba, ACCOUNT, json!("DE89370400440532013000")),
            "looks like an IBAN",
        ),
        (
            with(&aba, ACCOUNT, json!("1234-5678")),
            "account_number: account number must contain only digits",
        ),
        (with(&aba, ACCOUNT, json!("123")), "must be 4 to 17 digits"),
        (without(&aba, ACCOUNT), "fiat_network_instructions.wire.account_number is required"),
        (with(&aba, ACCOUNT, json!(12345678)), "fiat_network_instructions.wire.account_number"),
        (
            with(&aba, &format!("{ROUTING}/routing_number_type"), json!("IBAN")),
            "routing_number_type: unsupported wire account type 'IBAN'; supported: SWIFT, ABA",
        ),
        (
            without(&aba, &format!("{ROUTING}/bank_name")),
            "routing_details.bank_name is required",
        ),
        (
            without(&aba, "/fiat_network_instructions/wire/fiat_account_owner_address"),
            "fiat_account_owner_address is required",
        ),
        (
            with(
                &aba,
                "/fiat_network_instructions/wire/fiat_account_owner_address/city",
                json!("Zürich"),
            ),
            "fiat_account_owner_address.city may contain only",
        ),
        (
            with(
                &aba,
                &format!("{ROUTING}/bank_address/address1"),
                json!("x".repeat(36)),
            ),
            "bank_address.address1 must be at most 35 characters",
        ),
        (
            without(&aba, &format!("{ROUTING}/bank_address/country")),
            "bank_address.country is required",
        ),
        (without(&aba, "/fiat_account_owner"), "fiat_account_owner is required"),
        (
            with(&aba, "/fiat_account_owner", json!({})),
            "fiat_account_owner must set person_details or institution_details",
        ),
        (
            with(
                &aba,
                "/fiat_account_owner/institution_details",
                json!({ "name": "Acme" }),
            ),
            "fiat_account_owner must set only one of person_details and institution_details",
        ),
        (
            without(&aba, "/fiat_account_owner/person_details/last_name"),
            "fiat_account_owner.person_details.last_name is required",
        ),
        (
            with(&aba, "/fiat_account_owner/person_details/first_name", json!("  ")),
            "fiat_account_owner.person_details.first_name must be 1 to 100 characters",
        ),
        (
            with(
                &aba,
                "/fiat_network_instructions/cubix",
                json!({ "account_id": Uuid::new_v4() }),
            ),
            "fiat_network_instructions must set exactly one of wire and cubix",
        ),
        (
            with(&aba, "/fiat_network_instructions", json!({})),
            "fiat_network_instructions must set one of wire or cubix",
        ),
        (
            without(&aba, "/fiat_network_instructions"),
            "fiat_network_instructions is required",
        ),
        (
            with(
                &aba,
                "/fiat_network_instructions",
                json!({ "cbit": { "wallet_address": "abc" } }),
            ),
            "fiat_network_instructions.cbit is not supported; supported: wire, cubix",
        ),
        (
            with(
                &aba,
                "/fiat_network_instructions",
                json!({ "cubix": { "account_id": "acct-7" } }),
            ),
            "fiat_network_instructions.cubix.account_id must be a UUID",
        ),
        (
            with(&aba, "/fiat_network_instructions", json!({ "cubix": {} })),
            "fiat_network_instructions.cubix.account_id is required",
        ),
        (with(&aba, "/identity_id", json!("someone")), "identity_id must be a UUID"),
        (with(&aba, "/account_id", json!("")), "account_id must be a UUID"),
        (with(&aba, "/ref_id", json!("")), "ref_id must be 1 to 255 characters"),
        (
            with(
                &aba,
                "/metadata",
                json!({ "a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7" }),
            ),
            "metadata holds at most 6 key/value pairs",
        ),
        (
            with(&aba, "/metadata", json!({ "k": "v".repeat(101) })),
            "metadata.k must be at most 100 characters",
        ),
        (with(&aba, "/metadata", json!({ "k": 1 })), "metadata"),
    ];
    for (body, needle) in cases {
        let response = send_json(&client, Method::POST, FIAT_ACCOUNTS, &body).await;
        raw_problem(response, 400, needle);
    }
    assert!(
        client
            .list_fiat_accounts(&ListFiatAccounts {
                include_deleted: Some(true),
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing was created"
    );
    problem(
        client.fiat_account("not-a-uuid").await,
        400,
        "id must be a UUID",
    );
    problem(
        client.fiat_account(&Uuid::new_v4().to_string()).await,
        404,
        "not found for customer",
    );
}

async fn refuses_bad_fiat_account_updates(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let person = client.create_fiat_account(&wire_aba()).await.unwrap();
    let iban = client
        .create_fiat_account(&wire_swift_iban())
        .await
        .unwrap();
    let cubix_account = client
        .create_fiat_account(&cubix(&Uuid::new_v4().to_string()))
        .await
        .unwrap();
    let path = |a: &FiatAccount| format!("{FIAT_ACCOUNTS}/{}", a.id);
    let cases: Vec<(&FiatAccount, Value, &str)> = vec![
        (&person, json!({}), "nothing to update"),
        (
            &person,
            json!({ "fiat_account_owner": { "institution_details": { "name": "Acme" } } }),
            "fiat_account_owner cannot be changed from person to institution",
        ),
        (
            &iban,
            json!({ "fiat_account_owner": { "person_details": { "first_name": "A", "last_name": "B" } } }),
            "fiat_account_owner cannot be changed from institution to person",
        ),
        (
            &person,
            // As the spec's examples misplace it.
            json!({ "fiat_account_owner": { "fiat_network_instructions": { "wire": {} } } }),
            "fiat_network_instructions belongs at the top level",
        ),
        (
            &person,
            json!({ "fiat_network_instructions": { "wire": { "account_number": "87654321" } } }),
            "fiat_network_instructions.wire.account_number cannot be changed",
        ),
        (
            &person,
            json!({ "fiat_network_instructions": { "wire": { "routing_details": { "routing_number": "011000015" } } } }),
            "routing_details.routing_number cannot be changed",
        ),
        (
            &person,
            json!({ "fiat_network_instructions": { "wire": { "intermediary_routing_details": { "bank_name": "X" } } } }),
            "this account has no intermediary bank",
        ),
        (
            &person,
            json!({ "fiat_network_instructions": { "wire": { "fiat_account_owner_address": { "city": "São Paulo" } } } }),
            "fiat_account_owner_address.city may contain only",
        ),
        (
            &cubix_account,
            json!({ "fiat_network_instructions": { "wire": { "routing_details": { "bank_name": "X" } } } }),
            "fiat_network_instructions.wire cannot be updated on a CUBIX account",
        ),
        (
            &cubix_account,
            json!({ "fiat_network_instructions": { "cubix": { "account_id": Uuid::new_v4() } } }),
            "fiat_network_instructions.cubix cannot be updated",
        ),
        (
            &person,
            json!({ "metadata": { "a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7" } }),
            "metadata holds at most 6 key/value pairs",
        ),
    ];
    for (account, body, needle) in cases {
        let response = send_json(&client, Method::PUT, &path(account), &body).await;
        raw_problem(response, 400, needle);
    }
    for account in [&person, &iban, &cubix_account] {
        assert_eq!(&client.fiat_account(&account.id).await.unwrap(), account);
    }
    // Repeating the numbers it has is not a change.
    let same = send_json(
        &client,
        Method::PUT,
        &path(&iban),
        &json!({ "fiat_network_instructions": { "wire": {
            "account_number": "DE89370400440532013000",
            "routing_details": { "routing_number_type": "SWIFT", "routing_number": "DEUTDEFF", "bank_name": "Deutsche Bank AG" }
        } } }),
    )
    .await;
    assert_eq!(same.0, 200, "{}", same.2);
    assert_eq!(
        same.2["fiat_network_instructions"]["wire"]["routing_details"]["bank_name"],
        "Deutsche Bank AG"
    );
}

async fn approves_after_the_delay(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.fiat_account_approval_delay = Duration::from_secs(1)
    })
    .await;
    let client = server.client().await;

    let created = client.create_fiat_account(&wire_aba()).await.unwrap();
    assert_eq!(created.status, "PENDING");
    let stored = db
        .store()
        .await
        .fiat_account(customer_of(&server), created.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !stored.is_usable(),
        "a PENDING account takes no withdrawals"
    );
    eventually("approval", || async {
        client.fiat_account(&created.id).await.unwrap().status == "APPROVED"
    })
    .await;
    let approved = client.fiat_account(&created.id).await.unwrap();
    assert!(approved.updated_at > created.updated_at);

    // A change is reviewed again.
    let updated = client
        .update_fiat_account(
            &created.id,
            &UpdateFiatAccount {
                fiat_account_owner: Some(FiatAccountOwner::person("", "Smith")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.status, "PENDING");
    assert_eq!(
        updated.fiat_account_owner,
        FiatAccountOwner::person("Jane", "Smith")
    );
    eventually("approval after the change", || async {
        client.fiat_account(&created.id).await.unwrap().status == "APPROVED"
    })
    .await;

    // Accounts left PENDING when the server stopped are approved after a restart.
    let mut server = server;
    let pending = client.create_fiat_account(&wire_aba()).await.unwrap();
    assert_eq!(pending.status, "PENDING");
    server.stop();
    let restarted = TestServer::start_with(&db, |c| {
        c.fiat_account_approval_delay = Duration::from_secs(1)
    })
    .await;
    let client = restarted.client().await;
    eventually("approval after a restart", || async {
        client.fiat_account(&pending.id).await.unwrap().status == "APPROVED"
    })
    .await;
}

async fn sandbox_controls_fiat_accounts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.fiat_account_approval_delay = Duration::from_millis(100)
    })
    .await;
    let client = server.client().await;
    let store = db.store().await;
    let customer = customer_of(&server);

    let account = client.create_fiat_account(&wire_aba()).await.unwrap();
    let id: Uuid = account.id.parse().unwrap();
    let rejected = client
        .sandbox_fiat_account(
            &account.id,
            &SandboxFiatAccount {
                status: Some("REJECTED".into()),
                fail_withdrawals: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(rejected.status, "REJECTED");
    // The same JSON as Get Fiat Account, nothing added.
    let (_, _, raw) = send_json(
        &client,
        Method::PUT,
        &format!("/v2/sandbox/fiat-accounts/{}", account.id),
        &json!({ "status": "REJECTED" }),
    )
    .await;
    let (_, _, got) = client
        .raw(
            Method::GET,
            &format!("{FIAT_ACCOUNTS}/{}", account.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(raw, got);
    // The approver never overrides a decision, and PENDING set here stays.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        client.fiat_account(&account.id).await.unwrap().status,
        "REJECTED"
    );
    let held = client
        .sandbox_fiat_account(
            &account.id,
            &SandboxFiatAccount {
                status: Some("PENDING".into()),
                fail_withdrawals: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(held.status, "PENDING");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        client.fiat_account(&account.id).await.unwrap().status,
        "PENDING"
    );

    let failing = client
        .sandbox_fiat_account(
            &account.id,
            &SandboxFiatAccount {
                status: Some("APPROVED".into()),
                fail_withdrawals: Some(true),
            },
        )
        .await
        .unwrap();
    assert_eq!(failing.status, "APPROVED");
    let stored = store.fiat_account(customer, id).await.unwrap().unwrap();
    assert!(stored.fail_withdrawals && stored.is_usable());
    let healed = client
        .sandbox_fiat_account(
            &account.id,
            &SandboxFiatAccount {
                status: None,
                fail_withdrawals: Some(false),
            },
        )
        .await
        .unwrap();
    assert_eq!(healed.status, "APPROVED", "status untouched");
    let stored = store.fiat_account(customer, id).await.unwrap().unwrap();
    assert!(!stored.fail_withdrawals);

    let path = format!("/v2/sandbox/fiat-accounts/{}", account.id);
    for (body, needle) in [
        (
            json!({}),
            "nothing to change: set status or fail_withdrawals",
        ),
        (
            json!({ "status": "DONE" }),
            "status must be one of PENDING, APPROVED, REJECTED, got \"DONE\"",
        ),
        (json!({ "fail_withdrawals": "yes" }), "fail_withdrawals"),
    ] {
        raw_problem(
            send_json(&client, Method::PUT, &path, &body).await,
            400,
            needle,
        );
    }
    client.delete_fiat_account(&account.id).await.unwrap();
    problem(
        client
            .sandbox_fiat_account(
                &account.id,
                &SandboxFiatAccount {
                    status: Some("APPROVED".into()),
                    fail_withdrawals: None,
                },
            )
            .await,
        404,
        "not found for customer",
    );
}

async fn refuses_a_repeated_fiat_ref_id(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let first = client
        .create_fiat_account(&CreateFiatAccount {
            ref_id: Some("payee-7".into()),
            ..wire_aba()
        })
        .await
        .unwrap();
    let repeat = problem(
        client
            .create_fiat_account(&CreateFiatAccount {
                ref_id: Some("payee-7".into()),
                ..cubix(&Uuid::new_v4().to_string())
            })
            .await,
        409,
        "fiat account already exists with ref_id 'payee-7'",
    );
    assert_eq!(
        repeat.kind,
        "https://developer.paxos.com/docs/v2/problems/already-exists"
    );
    assert_eq!(repeat.title, "Already Exists");
    let existing: FiatAccount =
        serde_json::from_value(repeat.meta.unwrap()["existing"].clone()).unwrap();
    assert_eq!(existing, first);

    // Concurrent repeats: exactly one is created.
    let results = join_all(
        (0..6)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .create_fiat_account(&CreateFiatAccount {
                            ref_id: Some("race".into()),
                            ..wire_aba()
                        })
                        .await
                })
            })
            .collect(),
    )
    .await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, 1, "{results:?}");
    for result in results.iter().filter(|r| r.is_err()) {
        assert_eq!(result.as_ref().unwrap_err().problem().unwrap().status, 409);
    }

    // The ref_id stays taken after a delete.
    client.delete_fiat_account(&first.id).await.unwrap();
    problem(
        client
            .create_fiat_account(&CreateFiatAccount {
                ref_id: Some("payee-7".into()),
                ..wire_aba()
            })
            .await,
        409,
        "already exists",
    );
}

async fn join_all<T: std::fmt::Debug>(
    handles: Vec<tokio::task::JoinHandle<stableport_client::Result<T>>>,
) -> Vec<stableport_client::Result<T>> {
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("task"));
    }
    results
}

async fn filters_and_pages_fiat_accounts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let account = client
            .create_fiat_account(&CreateFiatAccount {
                ref_id: Some(format!("ref-{i}")),
                ..wire_aba()
            })
            .await
            .unwrap();
        ids.push(account.id);
    }

    // Newest first by default.
    let all = client
        .list_fiat_accounts(&ListFiatAccounts::default())
        .await
        .unwrap();
    let listed: Vec<_> = all.items.iter().map(|a| a.id.clone()).collect();
    assert_eq!(listed, ids.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(all.next_page_cursor, None);

    // An ascending walk two at a time sees each once, in order.
    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .list_fiat_accounts(&ListFiatAccounts {
                order: Some("ASC".into()),
                limit: Some(2),
                page_cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        walked.extend(page.items.into_iter().map(|a| a.id));
        cursor = page.next_page_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(walked, ids);

    let by_ref = client
        .list_fiat_accounts(&ListFiatAccounts {
            ref_ids: vec!["ref-1".into(), "ref-3".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_ref
            .items
            .iter()
            .map(|a| a.ref_id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["ref-3", "ref-1"]
    );
    let by_id = client
        .list_fiat_accounts(&ListFiatAccounts {
            ids: vec![ids[0].clone(), ids[4].clone()],
            order: Some("ASC".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_id.items.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        [ids[0].clone(), ids[4].clone()]
    );
    let third = client.fiat_account(&ids[2]).await.unwrap();
    let since = client
        .list_fiat_accounts(&ListFiatAccounts {
            created_at_gte: Some(third.created_at.clone()),
            order: Some("ASC".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        since.items.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        ids[2..]
    );
    let exactly = client
        .list_fiat_accounts(&ListFiatAccounts {
            created_at_eq: Some(third.created_at.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exactly.items.len(), 1);

    for (query, needle) in [
        ("limit=0", "limit must be a whole number from 1 to 1000"),
        ("limit=1001", "limit must be"),
        ("order=UP", "order must be ASC or DESC"),
        ("order_by=ID", "order_by must be CREATED_AT"),
        ("page_cursor=forged", "page_cursor is invalid"),
        ("ids=nope", "ids must be a UUID"),
        (
            "include_deleted=yes",
            "include_deleted must be true or false",
        ),
        (
            "created_at.gt=yesterday",
            "created_at.gt must be an RFC 3339 timestamp",
        ),
    ] {
        let response = client
            .raw(Method::GET, &format!("{FIAT_ACCOUNTS}?{query}"), None)
            .await
            .unwrap();
        raw_problem(response, 400, needle);
    }
    let too_many: String = (0..101)
        .map(|_| format!("ids={}", Uuid::new_v4()))
        .collect::<Vec<_>>()
        .join("&");
    raw_problem(
        client
            .raw(Method::GET, &format!("{FIAT_ACCOUNTS}?{too_many}"), None)
            .await
            .unwrap(),
        400,
        "ids accepts at most 100 values",
    );
}

async fn checks_destination_scopes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let reader = judged(&server.url)
        .login(
            &server.client_id,
            &server.client_secret,
            Some("transfer:read_fiat_account transfer:read_crypto_destination_address"),
        )
        .await
        .unwrap();
    let writer = server.client().await;
    let account = writer.create_fiat_account(&wire_aba()).await.unwrap();

    reader.fiat_account(&account.id).await.unwrap();
    reader
        .list_fiat_accounts(&ListFiatAccounts::default())
        .await
        .unwrap();
    reader
        .list_crypto_addresses(&ListCryptoAddresses::default())
        .await
        .unwrap();
    let needs = |scope: &str| format!("required one of '[{scope}]'");
    problem(
        reader.create_fiat_account(&wire_aba()).await,
        403,
        &needs("transfer:write_fiat_account"),
    );
    problem(
        reader.delete_fiat_account(&account.id).await,
        403,
        &needs("transfer:write_fiat_account"),
    );
    problem(
        reader
            .sandbox_fiat_account(
                &account.id,
                &SandboxFiatAccount {
                    status: Some("REJECTED".into()),
                    fail_withdrawals: None,
                },
            )
            .await,
        403,
        &needs("transfer:write_fiat_account"),
    );
    problem(
        reader
            .put_crypto_address(&PutCryptoAddress {
                crypto_network: Some("ETHEREUM".into()),
                address: Some(ETH.into()),
                ..Default::default()
            })
            .await,
        403,
        &needs("transfer:write_crypto_destination_address"),
    );
    let writer_only = judged(&server.url)
        .login(
            &server.client_id,
            &server.client_secret,
            Some("transfer:write_fiat_account"),
        )
        .await
        .unwrap();
    problem(
        writer_only.fiat_account(&account.id).await,
        403,
        &needs("transfer:read_fiat_account"),
    );
    problem(
        writer_only
            .list_crypto_addresses(&ListCryptoAddresses::default())
            .await,
        403,
        &needs("transfer:read_crypto_destination_address"),
    );
    problem(
        server.anonymous().fiat_account(&account.id).await,
        401,
        "bearer token",
    );
}

async fn isolates_customers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let mine = server.client().await;
    let theirs = other_customer(&server, &db).await;

    let account = mine
        .create_fiat_account(&CreateFiatAccount {
            ref_id: Some("shared-ref".into()),
            ..wire_aba()
        })
        .await
        .unwrap();
    let address = mine
        .put_crypto_address(&PutCryptoAddress {
            crypto_network: Some("ETHEREUM".into()),
            address: Some(ETH.into()),
            nickname: Some("mine".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    let their_account = theirs
        .create_fiat_account(&CreateFiatAccount {
            // A ref_id is unique per customer only.
            ref_id: Some("shared-ref".into()),
            ..cubix(&Uuid::new_v4().to_string())
        })
        .await
        .unwrap();
    assert_ne!(their_account.id, account.id);
    let (_, _, token_owner) = theirs
        .raw(
            Method::GET,
            &format!("{FIAT_ACCOUNTS}/{}", account.id),
            None,
        )
        .await
        .unwrap();
    let detail = token_owner["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with(&format!(
            "fiat account with id {} not found for customer with id ",
            account.id
        )) && !detail.ends_with(&server.customer_id),
        "{detail}"
    );
    problem(
        theirs.fiat_account(&account.id).await,
        404,
        "not found for customer",
    );
    problem(
        theirs.fiat_account_including_deleted(&account.id).await,
        404,
        "not found for customer",
    );
    problem(
        theirs
            .update_fiat_account(
                &account.id,
                &UpdateFiatAccount {
                    fiat_account_owner: Some(FiatAccountOwner::person("Mallory", "X")),
                    ..Default::default()
                },
            )
            .await,
        404,
        "not found for customer",
    );
    problem(
        theirs.delete_fiat_account(&account.id).await,
        404,
        "not found for customer",
    );
    problem(
        theirs
            .sandbox_fiat_account(
                &account.id,
                &SandboxFiatAccount {
                    status: Some("REJECTED".into()),
                    fail_withdrawals: Some(true),
                },
            )
            .await,
        404,
        "not found for customer",
    );
    let their_list = theirs
        .list_fiat_accounts(&ListFiatAccounts {
            ids: vec![account.id.clone(), their_account.id.clone()],
            include_deleted: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        their_list
            .items
            .iter()
            .map(|a| a.id.clone())
            .collect::<Vec<_>>(),
        [their_account.id.as_str()]
    );

    problem(
        theirs
            .put_crypto_address(&PutCryptoAddress {
                id: Some(address.id.clone()),
                nickname: Some("stolen".into()),
                ..Default::default()
            })
            .await,
        404,
        &format!(
            "crypto destination address with id {} not found for customer",
            address.id
        ),
    );
    problem(
        theirs.sandbox_crypto_address(&address.id, true).await,
        404,
        "not found for customer",
    );
    // The same address is theirs to add too, as a separate record.
    let their_address = theirs
        .put_crypto_address(&PutCryptoAddress {
            crypto_network: Some("ETHEREUM".into()),
            address: Some(ETH.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_ne!(their_address.id, address.id);
    let their_addresses = theirs
        .list_crypto_addresses(&ListCryptoAddresses::default())
        .await
        .unwrap();
    assert_eq!(their_addresses.addresses, [their_address]);

    // Nothing of mine changed.
    assert_eq!(mine.fiat_account(&account.id).await.unwrap(), account);
    let my_addresses = mine
        .list_crypto_addresses(&ListCryptoAddresses::default())
        .await
        .unwrap();
    assert_eq!(my_addresses.addresses, std::slice::from_ref(&address));
    let stored = db
        .store()
        .await
        .crypto_address(customer_of(&server), address.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.fail_withdrawals);
}

async fn puts_and_updates_crypto_addresses(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let put = |network: &str, address: &str| PutCryptoAddress {
        crypto_network: Some(network.into()),
        address: Some(address.into()),
        ..Default::default()
    };

    // Lower case is accepted and stored in its EIP-55 form.
    let eth = client
        .put_crypto_address(&put("ETHEREUM", &ETH.to_lowercase()))
        .await
        .unwrap();
    assert_eq!(eth.address, ETH);
    assert_eq!(eth.crypto_network, "ETHEREUM");
    assert_eq!(eth.status, "APPROVED");
    assert!(!eth.bookmarked);
    assert_eq!(eth.nickname, "ETHEREUM 0x5aAeb6...eAed");
    assert!(eth.created_at.ends_with('Z'));
    assert_eq!(eth.travelrule_metadata, None);

    // The same address again, in either case, is the same record, updated.
    let renamed = client
        .put_crypto_address(&PutCryptoAddress {
            nickname: Some("treasury".into()),
            bookmarked_status: Some(true),
            ..put("ETHEREUM", ETH)
        })
        .await
        .unwrap();
    assert_eq!(renamed.id, eth.id);
    assert_eq!(renamed.created_at, eth.created_at);
    assert_eq!(
        (renamed.nickname.as_str(), renamed.bookmarked),
        ("treasury", true)
    );

    // By id: only what is given changes.
    let travelrule = TravelruleMetadata {
        beneficiary: Some(FiatAccountOwner::institution("Acme Corp")),
        vasp: Some(Vasp {
            id: "vasp-123".into(),
        }),
        custodian_type: Some("VASP".into()),
    };
    let by_id = client
        .put_crypto_address(&PutCryptoAddress {
            id: Some(eth.id.clone()),
            bookmarked_status: Some(false),
            travelrule_metadata: Some(travelrule.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_id.id, eth.id);
    assert_eq!(
        (by_id.nickname.as_str(), by_id.bookmarked),
        ("treasury", false)
    );
    assert_eq!(by_id.travelrule_metadata, Some(travelrule));
    let (_, _, raw) = send_json(&client, Method::PUT, PUT_ADDRESS, &json!({ "id": eth.id })).await;
    assert_eq!(
        raw,
        json!({ "address": {
            "id": eth.id, "crypto_network": "ETHEREUM", "address": ETH, "nickname": "treasury",
            "status": "APPROVED", "created_at": eth.created_at, "bookmarked": false,
            "travelrule_metadata": {
                "beneficiary": { "institution_details": { "name": "Acme Corp" } },
                "vasp": { "id": "vasp-123" }, "custodian_type": "VASP"
            }
        }})
    );

    // One record per network: the same EVM address on BASE and POLYGON_POS
    // is new. POLYGON, our old name, is read as POLYGON_POS.
    let mut ids = HashSet::from([eth.id.clone()]);
    for (network, address, shown) in [
        ("BASE", ETH, "BASE"),
        ("POLYGON", ETH, "POLYGON_POS"),
        ("ARBITRUM_ONE", ETH, "ARBITRUM_ONE"),
        ("INK", ETH, "INK"),
        ("XLAYER", ETH, "XLAYER"),
        ("SOLANA", SOLANA, "SOLANA"),
        ("STELLAR", STELLAR, "STELLAR"),
    ] {
        let created = client
            .put_crypto_address(&put(network, address))
            .await
            .unwrap();
        assert_eq!(
            (created.crypto_network.as_str(), created.address.as_str()),
            (shown, address)
        );
        assert_eq!(created.status, "APPROVED");
        assert!(ids.insert(created.id));
    }
    let listed = client
        .list_crypto_addresses(&ListCryptoAddresses::default())
        .await
        .unwrap();
    assert_eq!(listed.addresses.len(), 8);

    let stored = db
        .store()
        .await
        .crypto_address(customer_of(&server), eth.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.network,
        stableport_domain::network::CryptoNetwork::Ethereum
    );
    assert_eq!(
        (stored.address.as_str(), stored.status.as_str()),
        (ETH, "APPROVED")
    );
    assert!(!stored.fail_withdrawals);
}

async fn refuses_bad_crypto_addresses(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let existing = client
        .put_crypto_address(&PutCryptoAddress {
            crypto_network: Some("SOLANA".into()),
            address: Some(SOLANA.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let put =
        |network: &str, address: &str| json!({ "crypto_network": network, "address": address });
    let mut wrong_case = ETH.to_string();
    wrong_case.replace_range(41.., "D");
    let cases: Vec<(Value, &str)> = vec![
        (
            put("ETHEREUM", &wrong_case),
            "address: address 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD does not match its EIP-55 checksum",
        ),
        (put("BASE", "0x1234"), "address: BASE address '0x1234' must be 0x followed by 40 hexadecimal digits"),
        (put("POLYGON_POS", SOLANA), "POLYGON_POS address"),
        (put("SOLANA", "0okenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"), "is not base58"),
        (put("SOLANA", "Tokenkeg"), "a base58 public key has 32 to 44"),
        (put("SOLANA", ETH), "SOLANA address"),
        (
            put("STELLAR", "GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN6"),
            "STELLAR address 'GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN6' does not match its checksum",
        ),
        (
            put("STELLAR", "SAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN7"),
            "looks like a secret seed",
        ),
        (put("STELLAR", "gaazi4"), "must be a public account id"),
        (
            put("BITCOIN", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
            "crypto_network: BITCOIN carries no supported stablecoin; supported: ETHEREUM, SOLANA, STELLAR, BASE, POLYGON_POS, ARBITRUM_ONE, INK, XLAYER",
        ),
        (put("LITECOIN", ETH), "LITECOIN carries no supported stablecoin"),
        (put("ethereum", ETH), "crypto_network: unsupported crypto network 'ethereum'"),
        (
            json!({ "id": existing.id, "crypto_network": "SOLANA", "address": SOLANA }),
            "give either id (to update an address) or crypto_network and address, not both",
        ),
        (json!({ "nickname": "x" }), "crypto_network and address are required"),
        (json!({ "address": ETH }), "crypto_network and address are required"),
        (json!({ "crypto_network": "ETHEREUM" }), "address is required"),
        (json!({ "id": "abc" }), "id must be a UUID"),
        (
            json!({ "id": existing.id, "nickname": "" }),
            "nickname must be 1 to 100 characters",
        ),
        (
            json!({ "id": existing.id, "nickname": "n".repeat(101) }),
            "nickname must be 1 to 100 characters",
        ),
        (json!({ "id": existing.id, "bookmarked_status": "yes" }), "bookmarked_status"),
        (
            json!({ "id": existing.id, "travelrule_metadata": { "custodian_type": "BANK" } }),
            "travelrule_metadata.custodian_type must be one of VASP, PRIVATE, got \"BANK\"",
        ),
        (
            json!({ "id": existing.id, "travelrule_metadata": { "vasp": {} } }),
            "travelrule_metadata.vasp.id must be 1 to 100 characters",
        ),
        (
            json!({ "id": existing.id, "travelrule_metadata": { "beneficiary": { "person_details": { "first_name": "A" } } } }),
            "travelrule_metadata.beneficiary.person_details.last_name is required",
        ),
        (json!({ "crypto_network": 1, "address": ETH }), "crypto_network"),
    ];
    for (body, needle) in cases {
        raw_problem(
            send_json(&client, Method::PUT, PUT_ADDRESS, &body).await,
            400,
            needle,
        );
    }
    problem(
        client
            .put_crypto_address(&PutCryptoAddress {
                id: Some(Uuid::new_v4().to_string()),
                nickname: Some("ghost".into()),
                ..Default::default()
            })
            .await,
        404,
        "crypto destination address with id",
    );
    let listed = client
        .list_crypto_addresses(&ListCryptoAddresses::default())
        .await
        .unwrap();
    assert_eq!(listed.addresses, [existing], "nothing changed");
}

async fn filters_and_pages_crypto_addresses(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let mut created: Vec<CryptoDestinationAddress> = Vec::new();
    for (network, address, nickname, bookmarked) in [
        ("ETHEREUM", ETH, "eth", true),
        ("BASE", ETH, "base", false),
        ("POLYGON", ETH, "polygon", false),
        ("SOLANA", SOLANA, "sol", true),
        ("STELLAR", STELLAR, "xlm", false),
    ] {
        created.push(
            client
                .put_crypto_address(&PutCryptoAddress {
                    crypto_network: Some(network.into()),
                    address: Some(address.into()),
                    nickname: Some(nickname.into()),
                    bookmarked_status: Some(bookmarked),
                    ..Default::default()
                })
                .await
                .unwrap(),
        );
    }
    let ids_of = |list: &[CryptoDestinationAddress]| -> Vec<String> {
        list.iter().map(|a| a.id.clone()).collect()
    };
    let list = |query: ListCryptoAddresses| {
        let client = client.clone();
        async move { client.list_crypto_addresses(&query).await.unwrap() }
    };

    let all = list(ListCryptoAddresses::default()).await;
    let newest_first: Vec<String> = ids_of(&created).into_iter().rev().collect();
    assert_eq!(ids_of(&all.addresses), newest_first);
    assert_eq!(all.next_page_cursor, None);

    let solana = list(ListCryptoAddresses {
        crypto_networks: vec!["SOLANA".into(), "STELLAR".into()],
        order: Some("ASC".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&solana.addresses), ids_of(&created[3..]));
    // An EVM address matches whatever its letter case.
    let evm = list(ListCryptoAddresses {
        addresses: vec![ETH.to_lowercase()],
        order: Some("ASC".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&evm.addresses), ids_of(&created[..3]));
    let bookmarked = list(ListCryptoAddresses {
        bookmarked_status: Some(true),
        order: Some("ASC".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids_of(&bookmarked.addresses),
        [created[0].id.clone(), created[3].id.clone()]
    );
    let not_bookmarked = list(ListCryptoAddresses {
        bookmarked_status: Some(false),
        ..Default::default()
    })
    .await;
    assert_eq!(not_bookmarked.addresses.len(), 3);
    let by_nickname = list(ListCryptoAddresses {
        nicknames: vec!["xlm".into(), "base".into()],
        order: Some("ASC".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids_of(&by_nickname.addresses),
        [created[1].id.clone(), created[4].id.clone()]
    );
    let by_id = list(ListCryptoAddresses {
        ids: vec![created[2].id.clone()],
        ..Default::default()
    })
    .await;
    assert_eq!(by_id.addresses, [created[2].clone()]);
    let after = list(ListCryptoAddresses {
        created_at_gt: Some(created[3].created_at.clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&after.addresses), [created[4].id.clone()]);

    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(ListCryptoAddresses {
            limit: Some(2),
            page_cursor: cursor.clone(),
            ..Default::default()
        })
        .await;
        assert!(page.addresses.len() <= 2);
        walked.extend(ids_of(&page.addresses));
        cursor = page.next_page_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(walked, newest_first);

    // The wire shape: `addresses`, and a cursor only while more remain.
    let (_, _, raw) = client
        .raw(
            Method::GET,
            "/v2/transfer/crypto-destination-addresses?limit=1",
            None,
        )
        .await
        .unwrap();
    assert!(
        raw["addresses"].is_array() && raw.get("items").is_none(),
        "{raw}"
    );
    assert!(raw["next_page_cursor"].is_string(), "{raw}");

    // Networks in Paxos's enum that carry none of our stablecoins match nothing.
    for query in [
        "crypto_networks=BITCOIN",
        "crypto_networks=LITECOIN&crypto_networks=BITCOIN_CASH",
    ] {
        let (status, _, raw) = client
            .raw(Method::GET, &format!("{ADDRESSES}?{query}"), None)
            .await
            .unwrap();
        assert_eq!(
            (status.as_u16(), raw),
            (200, json!({ "addresses": [] })),
            "{query}"
        );
    }
    // Mixed with a supported one, only that one counts.
    let (_, _, raw) = client
        .raw(
            Method::GET,
            &format!("{ADDRESSES}?crypto_networks=BITCOIN&crypto_networks=SOLANA"),
            None,
        )
        .await
        .unwrap();
    assert!(
        raw["addresses"]
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x["crypto_network"] == "SOLANA")),
        "{raw}"
    );

    for (query, needle) in [
        (
            "crypto_networks=DOGE",
            "crypto_networks: unsupported crypto network 'DOGE'; supported: ETHEREUM, SOLANA, STELLAR, BASE, POLYGON_POS, ARBITRUM_ONE, INK, XLAYER",
        ),
        ("bookmarked_status=maybe", "bookmarked_status must be true or false"),
        ("ids=1", "ids must be a UUID"),
        ("limit=5000", "limit must be a whole number from 1 to 1000"),
        ("order=asc", "order must be ASC or DESC"),
        ("order_by=NICKNAME", "order_by must be CREATED_AT"),
        ("created_at.lte=2024", "created_at.lte must be an RFC 3339 timestamp"),
    ] {
        let response = client
            .raw(
                Method::GET,
                &format!("/v2/transfer/crypto-destination-addresses?{query}"),
                None,
            )
            .await
            .unwrap();
        raw_problem(response, 400, needle);
    }
    // A fiat account cursor is not a crypto address cursor.
    client.create_fiat_account(&wire_aba()).await.unwrap();
    client.create_fiat_account(&wire_aba()).await.unwrap();
    let fiat_cursor = client
        .list_fiat_accounts(&ListFiatAccounts {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .next_page_cursor
        .unwrap();
    problem(
        client
            .list_crypto_addresses(&ListCryptoAddresses {
                page_cursor: Some(fiat_cursor),
                ..Default::default()
            })
            .await,
        400,
        "page_cursor is invalid",
    );
}

async fn sandbox_controls_crypto_addresses(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let store = db.store().await;
    let address = client
        .put_crypto_address(&PutCryptoAddress {
            crypto_network: Some("STELLAR".into()),
            address: Some(STELLAR.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let id: Uuid = address.id.parse().unwrap();

    let failing = client
        .sandbox_crypto_address(&address.id, true)
        .await
        .unwrap();
    // The same JSON as the normal API: nothing about the sandbox shows.
    assert_eq!(failing, address);
    let stored = store
        .crypto_address(customer_of(&server), id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.fail_withdrawals);
    let (_, _, raw) = send_json(
        &client,
        Method::PUT,
        &format!("/v2/sandbox/crypto-destination-addresses/{}", address.id),
        &json!({ "fail_withdrawals": false }),
    )
    .await;
    assert!(raw["address"].get("fail_withdrawals").is_none(), "{raw}");
    let stored = store
        .crypto_address(customer_of(&server), id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.fail_withdrawals);

    let path = format!("/v2/sandbox/crypto-destination-addresses/{}", address.id);
    raw_problem(
        send_json(&client, Method::PUT, &path, &json!({})).await,
        400,
        "fail_withdrawals is required",
    );
    raw_problem(
        send_json(
            &client,
            Method::PUT,
            &path,
            &json!({ "fail_withdrawals": 1 }),
        )
        .await,
        400,
        "fail_withdrawals",
    );
    problem(
        client
            .sandbox_crypto_address(&Uuid::new_v4().to_string(), true)
            .await,
        404,
        "not found for customer",
    );
}

async fn production_has_no_destination_sandbox(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.environment = Environment::Production;
        c.client_id = Some("ci".into());
        c.client_secret = Some("production-secret-0123456789".into());
    })
    .await;
    let client = judged(&server.url)
        .login("ci", "production-secret-0123456789", None)
        .await
        .unwrap();
    let account = client.create_fiat_account(&wire_aba()).await.unwrap();
    let address = client
        .put_crypto_address(&PutCryptoAddress {
            crypto_network: Some("ETHEREUM".into()),
            address: Some(ETH.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    for path in [
        format!("/v2/sandbox/fiat-accounts/{}", account.id),
        format!("/v2/sandbox/crypto-destination-addresses/{}", address.id),
    ] {
        let response = send_json(
            &client,
            Method::PUT,
            &path,
            &json!({ "fail_withdrawals": true }),
        )
        .await;
        raw_problem(response, 404, "no such route");
    }
}
