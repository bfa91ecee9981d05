//! Orchestration rules and deposits: automatic mint, redeem and convert.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;
use stableport_client::{Client, RuleDestination as To, RuleSourceRequest as From};
use stableport_domain::address::validate_address;
use stableport_domain::network::CryptoNetwork;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    mints_from_a_wire,
    redeems_from_a_chain_to_a_bank,
    converts_between_stablecoins_on_chains,
    processes_each_deposit_once,
    credits_unconverted_when_the_rule_does_not_apply,
    generates_valid_unique_stable_addresses,
    serves_deposit_addresses_and_instructions,
    refuses_bad_rules_and_deposits,
    lists_rules_with_filters,
    paxos_sandbox_deposit_triggers_rules,
);

/// Seed 004 with Paxos's own calls only: `POST /v2/sandbox/profiles/{id}/deposit`
/// with a rule's `crypto_address` is a chain deposit to that address.
async fn paxos_sandbox_deposit_triggers_rules(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let rule = client
        .create_rule(
            "redeem-pyusd-polygon",
            &profile,
            "PYUSD",
            "USD",
            &From::Crypto {
                network: "POLYGON_POS".into(),
            },
            &To::Profile(profile.clone()),
        )
        .await
        .unwrap();
    let source = rule.source.crypto.clone().unwrap();
    assert_eq!(source.network.as_deref(), Some("POLYGON_POS"));
    let address = source.address.clone().unwrap();
    let deposit = |address: String, profile: String| {
        let client = client.clone();
        async move {
            let body = json!({
                "asset": "PYUSD", "amount": "40", "crypto_network": "POLYGON_POS",
                "crypto_address": address,
            });
            client
                .raw(
                    Method::POST,
                    &format!("/v2/sandbox/profiles/{profile}/deposit"),
                    Some(("application/json", body.to_string().into_bytes())),
                )
                .await
                .unwrap()
        }
    };
    let (status, _, body) = deposit(address.to_lowercase(), profile.clone()).await;
    assert_eq!(status, 200, "{body}");
    let activity = body["activity_id"].as_str().unwrap().to_string();

    let listed = client
        .list_orchestrations(&[("orchestration_rule_id", rule.id.clone())])
        .await
        .unwrap()
        .items;
    assert_eq!(
        listed.len(),
        1,
        "the deposit started the rule's orchestration"
    );
    let o = completed(&client, &listed[0].id).await;
    assert_eq!(
        (o.source_amount.as_str(), o.destination_asset.as_str()),
        ("40", "USD")
    );
    assert_eq!(
        o.source.crypto.as_ref().map(|c| c.address.as_str()),
        Some(address.as_str())
    );
    let transfer = client.transfer(&activity).await.unwrap();
    assert_eq!(
        (transfer.kind.as_str(), transfer.crypto_network.as_deref()),
        ("CRYPTO_DEPOSIT", Some("POLYGON_POS"))
    );
    assert!(transfer
        .crypto_tx_hash
        .as_deref()
        .is_some_and(|h| h.len() == 66 && h.starts_with("0x")));
    assert_eq!(available(&client, &profile, "USD").await, "40");
    assert_eq!(available(&client, &profile, "PYUSD").await, "0");

    // Each call is a new chain transaction: a second deposit converts too.
    let (status, _, _) = deposit(address.clone(), profile.clone()).await;
    assert_eq!(status, 200);
    eventually("second conversion", || async {
        available(&client, &profile, "USD").await == "80"
    })
    .await;

    // Another profile cannot claim the rule's address.
    let other = funded_profile(&client, "USD", "1").await;
    let (status, _, body) = deposit(address.clone(), other.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("is a deposit address of profile"),
        "{body}"
    );
    assert_eq!(available(&client, &other, "PYUSD").await, "0");

    // An address that is not ours: the profile is credited, nothing converts.
    let (status, _, _) = deposit(
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
        profile.clone(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(available(&client, &profile, "PYUSD").await, "40");
    db.assert_ledger_sound().await;
}

async fn completed(client: &Client, id: &str) -> stableport_client::Orchestration {
    eventually("orchestration completed", || async {
        client.orchestration(id).await.unwrap().status == "COMPLETED"
    })
    .await;
    client.orchestration(id).await.unwrap()
}

fn tx(n: u8) -> String {
    format!("0x{}", format!("{n:02x}").repeat(32))
}

async fn mints_from_a_wire(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;

    let rule = client
        .create_rule(
            "mint-1",
            &profile,
            "USD",
            "USDG",
            &From::Fiat {
                network: "WIRE".into(),
                account_type: Some("ABA".into()),
            },
            &To::Profile(profile.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            rule.status.as_str(),
            rule.source_asset.as_str(),
            rule.destination_asset.as_str()
        ),
        ("ACTIVE", "USD", "USDG")
    );
    let fiat = rule.source.fiat.clone().expect("fiat source");
    let memo = fiat.memo_id.clone().unwrap();
    assert_eq!(
        (fiat.network.as_deref(), fiat.account_type.as_deref()),
        (Some("WIRE"), Some("ABA"))
    );
    let instructions = client
        .fiat_deposit_instructions(fiat.deposit_instructions_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(instructions.memo_id, memo);
    assert_eq!(
        instructions.fiat_network_instructions["wire"]["routing_details"]["routing_number_type"],
        "ABA"
    );

    client
        .sandbox_fiat_deposit(&memo, "2500.00", Some("wire-ref-1"))
        .await
        .unwrap();
    let orchestrations = client
        .list_orchestrations(&[("orchestration_rule_id", rule.id.clone())])
        .await
        .unwrap()
        .items;
    assert_eq!(orchestrations.len(), 1);
    let o = completed(&client, &orchestrations[0].id).await;
    assert_eq!(o.orchestration_rule_id.as_deref(), Some(rule.id.as_str()));
    // The spec's source for a wire deposit: the instructions and the memo.
    assert_eq!(
        o.source.fiat,
        Some(stableport_client::FiatSource {
            deposit_instructions_id: fiat.deposit_instructions_id.clone().unwrap(),
            memo: memo.clone(),
        })
    );
    assert_eq!(o.source.profile, None);
    assert!(
        o.ref_id.starts_with("deposit-"),
        "a system ref_id: {}",
        o.ref_id
    );
    assert_eq!(
        (o.source_amount.as_str(), o.destination_asset.as_str()),
        ("2500", "USDG")
    );
    assert_eq!(available(&client, &profile, "USDG").await, "2500");
    assert_eq!(
        available(&client, &profile, "USD").await,
        "0",
        "the USD was converted"
    );
    let wires = client
        .list_transfers(&[("type", "WIRE_DEPOSIT".into())])
        .await
        .unwrap()
        .items;
    assert_eq!(wires.len(), 1);
    assert_eq!(
        (wires[0].amount.as_str(), wires[0].memo.as_deref()),
        ("2500", Some(memo.as_str()))
    );

    // Mint straight onto a chain.
    let address = crypto_address(
        &client,
        "ETHEREUM",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    )
    .await;
    let to_chain = client
        .create_rule(
            "mint-2",
            &profile,
            "USD",
            "USDC",
            &From::Fiat {
                network: "WIRE".into(),
                account_type: None,
            },
            &To::Crypto(address),
        )
        .await
        .unwrap();
    client
        .sandbox_fiat_deposit(
            to_chain.source.fiat.unwrap().memo_id.as_deref().unwrap(),
            "10",
            None,
        )
        .await
        .unwrap();
    let minted = client
        .list_orchestrations(&[("orchestration_rule_id", to_chain.id.clone())])
        .await
        .unwrap()
        .items;
    let minted = completed(&client, &minted[0].id).await;
    let withdrawal = client
        .transfer(&minted.destination_transfer.transfer_id)
        .await
        .unwrap();
    assert_eq!(
        (
            withdrawal.kind.as_str(),
            withdrawal.asset.as_str(),
            withdrawal.amount.as_str()
        ),
        ("CRYPTO_WITHDRAWAL", "USDC", "10")
    );
    db.assert_ledger_sound().await;
}

async fn redeems_from_a_chain_to_a_bank(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let bank = bank_account(&client).await;
    // Seed 004, example 2: USDG arriving on chain is redeemed to a bank.
    let rule = client
        .create_rule(
            "redeem-usdg",
            &profile,
            "USDG",
            "USD",
            &From::Crypto {
                network: "ETHEREUM".into(),
            },
            &To::Fiat {
                fiat_account_id: bank.clone(),
                memo: Some("redemption".into()),
            },
        )
        .await
        .unwrap();
    let source = rule.source.crypto.clone().unwrap();
    let address = source.address.unwrap();
    assert_eq!(
        validate_address(CryptoNetwork::Ethereum, &address).unwrap(),
        address
    );
    assert_eq!(rule.destination["fiat"]["fiat_account_id"], bank.as_str());

    let outcome = client
        .sandbox_crypto_deposit("ETHEREUM", &address.to_lowercase(), "USDG", "750.5", &tx(1))
        .await
        .unwrap();
    assert!(!outcome.duplicate);
    let o = completed(
        &client,
        outcome
            .orchestration_id
            .as_deref()
            .expect("the rule started an orchestration"),
    )
    .await;
    // The spec's source for a chain deposit: the rule's address.
    assert_eq!(
        o.source.crypto,
        Some(stableport_client::CryptoSource {
            address_id: source.address_id.clone().unwrap(),
            address: address.clone(),
            network: "ETHEREUM".into(),
        })
    );
    let wire = client
        .transfer(&o.destination_transfer.transfer_id)
        .await
        .unwrap();
    assert_eq!(
        (
            wire.kind.as_str(),
            wire.amount.as_str(),
            wire.fiat_account_id.as_deref()
        ),
        ("WIRE_WITHDRAWAL", "750.5", Some(bank.as_str()))
    );
    let deposit = client.transfer(&outcome.transfer_id).await.unwrap();
    assert_eq!(
        (
            deposit.kind.as_str(),
            deposit.crypto_tx_hash.as_deref(),
            deposit.crypto_network.as_deref()
        ),
        ("CRYPTO_DEPOSIT", Some(tx(1).as_str()), Some("ETHEREUM"))
    );
    for asset in ["USDG", "USD"] {
        assert_eq!(
            available(&client, &profile, asset).await,
            "0",
            "{asset} passed through the profile"
        );
    }
    db.assert_ledger_sound().await;
}

async fn converts_between_stablecoins_on_chains(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let out = crypto_address(
        &client,
        "BASE",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    )
    .await;
    let rule = client
        .create_rule(
            "pyusd-to-usdc",
            &profile,
            "PYUSD",
            "USDC",
            &From::Crypto {
                network: "SOLANA".into(),
            },
            &To::Crypto(out),
        )
        .await
        .unwrap();
    let address = rule.source.crypto.unwrap().address.unwrap();
    let outcome = client.sandbox_crypto_deposit("SOLANA", &address, "PYUSD", "99.123456", "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW").await.unwrap();
    let o = completed(&client, outcome.orchestration_id.as_deref().unwrap()).await;
    let out = client
        .transfer(&o.destination_transfer.transfer_id)
        .await
        .unwrap();
    assert_eq!(
        (
            out.asset.as_str(),
            out.amount.as_str(),
            out.crypto_network.as_deref()
        ),
        ("USDC", "99.123456", Some("BASE"))
    );
    assert!(out.crypto_tx_hash.unwrap().starts_with("0x"));
    db.assert_ledger_sound().await;
}

async fn processes_each_deposit_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let rule = client
        .create_rule(
            "once",
            &profile,
            "USDC",
            "USDP",
            &From::Crypto {
                network: "POLYGON".into(),
            },
            &To::Profile(profile.clone()),
        )
        .await
        .unwrap();
    let address = rule.source.crypto.unwrap().address.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (client, address) = (client.clone(), address.clone());
            tokio::spawn(async move {
                client
                    .sandbox_crypto_deposit("POLYGON", &address, "USDC", "5", &tx(7))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| !o.duplicate).count(),
        1,
        "exactly one was processed"
    );
    assert_eq!(
        outcomes
            .iter()
            .map(|o| o.transfer_id.clone())
            .collect::<HashSet<_>>()
            .len(),
        1
    );
    assert_eq!(
        outcomes
            .iter()
            .map(|o| o.orchestration_id.clone())
            .collect::<HashSet<_>>()
            .len(),
        1
    );
    completed(&client, outcomes[0].orchestration_id.as_deref().unwrap()).await;
    assert_eq!(available(&client, &profile, "USDP").await, "5");

    // A wire reported twice with its reference is credited once.
    let instructions = client
        .create_fiat_deposit_instructions(&json!({ "profile_id": profile, "fiat_network": "WIRE" }))
        .await
        .unwrap();
    for _ in 0..3 {
        client
            .sandbox_fiat_deposit(&instructions.memo_id, "100.25", Some("FED-REF-001"))
            .await
            .unwrap();
    }
    assert_eq!(available(&client, &profile, "USD").await, "100.25");
    db.assert_ledger_sound().await;
}

async fn credits_unconverted_when_the_rule_does_not_apply(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let rule = client
        .create_rule(
            "usdc-to-usd",
            &profile,
            "USDC",
            "USD",
            &From::Crypto {
                network: "STELLAR".into(),
            },
            &To::Profile(profile.clone()),
        )
        .await
        .unwrap();
    let address = rule.source.crypto.clone().unwrap().address.unwrap();
    // Another asset than the rule's: credited as it came.
    let other = client
        .sandbox_crypto_deposit("STELLAR", &address, "PYUSD", "3", "aa".repeat(32).as_str())
        .await
        .unwrap();
    assert!(other.orchestration_id.is_none());
    assert_eq!(available(&client, &profile, "PYUSD").await, "3");
    // Finer than the pair's precision (USD has cents): credited unconverted, nothing rounded.
    let fine = client
        .sandbox_crypto_deposit(
            "STELLAR",
            &address,
            "USDC",
            "1.005",
            "bb".repeat(32).as_str(),
        )
        .await
        .unwrap();
    assert!(fine.orchestration_id.is_none());
    assert_eq!(available(&client, &profile, "USDC").await, "1.005");

    let deleted = client.delete_rule(&rule.id).await.unwrap();
    assert_eq!(deleted.status, "DELETED");
    assert_eq!(
        client.delete_rule(&rule.id).await.unwrap().status,
        "DELETED",
        "deleting again changes nothing"
    );
    let after = client
        .sandbox_crypto_deposit("STELLAR", &address, "USDC", "20", "cc".repeat(32).as_str())
        .await
        .unwrap();
    assert!(
        after.orchestration_id.is_none(),
        "a DELETED rule converts nothing"
    );
    assert_eq!(available(&client, &profile, "USDC").await, "21.005");
    assert_eq!(available(&client, &profile, "USD").await, "0");
    problem(
        client.delete_rule(&uuid::Uuid::new_v4().to_string()).await,
        404,
        "not found for customer",
    );
    db.assert_ledger_sound().await;
}

async fn generates_valid_unique_stable_addresses(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let mut seen = HashSet::new();
    for (i, network) in CryptoNetwork::ALL.iter().cycle().take(15).enumerate() {
        let rule = client
            .create_rule(
                &format!("r-{i}"),
                &profile,
                "USDC",
                "USDC",
                &From::Crypto {
                    network: network.code().into(),
                },
                &To::Profile(profile.clone()),
            )
            .await
            .unwrap();
        let crypto = rule.source.crypto.unwrap();
        let address = crypto.address.unwrap();
        assert_eq!(crypto.network.as_deref(), Some(network.code()));
        assert_eq!(
            validate_address(*network, &address).as_deref(),
            Ok(address.as_str()),
            "{network:?} {address}"
        );
        assert!(seen.insert(address.clone()), "unique");
        let listed = client
            .list_rules(&[("ids", rule.id.clone())])
            .await
            .unwrap()
            .rules;
        assert_eq!(
            listed[0].source.crypto.as_ref().unwrap().address.as_deref(),
            Some(address.as_str()),
            "stable"
        );
    }
}

async fn serves_deposit_addresses_and_instructions(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let plain = client
        .create_deposit_address(&json!({ "profile_id": profile, "crypto_network": "ETHEREUM", "ref_id": "da-1", "metadata": { "user": "42" } }))
        .await
        .unwrap();
    assert_eq!(
        (
            plain.conversion_target_asset.as_str(),
            plain.compatible_crypto_networks.clone()
        ),
        ("NO_CONVERSION", vec!["ETHEREUM".to_string()])
    );
    assert_eq!(plain.customer_id, server.customer_id);
    let p = problem(
        client
            .create_deposit_address(
                &json!({ "profile_id": profile, "crypto_network": "SOLANA", "ref_id": "da-1" }),
            )
            .await,
        409,
        "already exists with ref_id 'da-1'",
    );
    assert_eq!(p.meta.unwrap()["existing"]["id"], plain.id.as_str());
    let outcome = client
        .sandbox_crypto_deposit("ETHEREUM", &plain.address, "USDP", "8.5", &tx(9))
        .await
        .unwrap();
    assert!(outcome.orchestration_id.is_none());
    assert_eq!(available(&client, &profile, "USDP").await, "8.5");
    let deposit = client.transfer(&outcome.transfer_id).await.unwrap();
    assert_eq!(
        deposit.metadata.unwrap()["user"],
        "42",
        "the address's metadata follows its deposits"
    );

    let to_usd = client
        .create_deposit_address(&json!({ "profile_id": profile, "crypto_network": "BASE", "conversion_target_asset": "USD" }))
        .await
        .unwrap();
    let converted = client
        .sandbox_crypto_deposit("BASE", &to_usd.address, "USDC", "12", &tx(10))
        .await
        .unwrap();
    completed(&client, converted.orchestration_id.as_deref().unwrap()).await;
    assert_eq!(available(&client, &profile, "USD").await, "12");

    let listed = client
        .list_deposit_addresses(&[("ref_ids", "da-1".into())])
        .await
        .unwrap()
        .items;
    assert_eq!(listed, vec![plain.clone()]);
    assert_eq!(
        client
            .list_deposit_addresses(&[("profile_ids", profile.clone())])
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    let swift = client
        .create_fiat_deposit_instructions(&json!({ "profile_id": profile, "fiat_network": "WIRE", "routing_number_type": "SWIFT", "ref_id": "fdi-1" }))
        .await
        .unwrap();
    assert_eq!((swift.status.as_str(), swift.memo_id.len()), ("VALID", 16));
    assert_eq!(
        swift.fiat_network_instructions["wire"]["routing_details"]["routing_number_type"],
        "SWIFT"
    );
    let cubix = client
        .create_fiat_deposit_instructions(
            &json!({ "profile_id": profile, "fiat_network": "CUBIX" }),
        )
        .await
        .unwrap();
    assert!(cubix.fiat_network_instructions["cubix"]["account_id"].is_string());
    assert_ne!(cubix.memo_id, swift.memo_id);
    client
        .sandbox_fiat_deposit(&cubix.memo_id, "5", None)
        .await
        .unwrap();
    let cubix_in = client
        .list_transfers(&[("type", "CUBIX_DEPOSIT".into())])
        .await
        .unwrap()
        .items;
    assert_eq!(cubix_in.len(), 1);
    problem(
        client
            .create_fiat_deposit_instructions(
                &json!({ "profile_id": profile, "fiat_network": "WIRE", "ref_id": "fdi-1" }),
            )
            .await,
        409,
        "already exists",
    );
    assert_eq!(
        client
            .list_fiat_deposit_instructions(&[])
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let stranger = other_customer(&server, &db).await;
    problem(
        stranger.fiat_deposit_instructions(&swift.id).await,
        404,
        "not found for customer",
    );
    problem(
        stranger
            .sandbox_fiat_deposit(&swift.memo_id, "5", None)
            .await,
        404,
        "not found for customer",
    );
    assert!(stranger
        .list_deposit_addresses(&[])
        .await
        .unwrap()
        .items
        .is_empty());
    db.assert_ledger_sound().await;
}

async fn refuses_bad_rules_and_deposits(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let stranger = other_customer(&server, &db).await;
    let foreign = default_profile(&stranger).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let crypto = |n: &str| From::Crypto { network: n.into() };
    let wire = From::Fiat {
        network: "WIRE".into(),
        account_type: None,
    };
    let me = To::Profile(profile.clone());
    let cases: Vec<(&str, &str, From, To, u16, &str)> = vec![
        (
            "USDC",
            "USD",
            crypto("BITCOIN"),
            me.clone(),
            400,
            "unsupported network \"BITCOIN\"",
        ),
        (
            "USD",
            "USDC",
            crypto("ETHEREUM"),
            me.clone(),
            400,
            "a crypto deposit brings a stablecoin",
        ),
        (
            "USDC",
            "USD",
            wire.clone(),
            me.clone(),
            400,
            "a fiat deposit brings USD",
        ),
        (
            "USD",
            "USDC",
            From::Fiat {
                network: "SEPA".into(),
                account_type: None,
            },
            me.clone(),
            400,
            "unsupported fiat network",
        ),
        (
            "USD",
            "USDC",
            From::Fiat {
                network: "WIRE".into(),
                account_type: Some("IBAN".into()),
            },
            me.clone(),
            400,
            "account_type",
        ),
        (
            "USD",
            "USDC",
            From::Fiat {
                network: "CUBIX".into(),
                account_type: Some("ABA".into()),
            },
            me.clone(),
            400,
            "WIRE only",
        ),
        (
            "USDC",
            "USD",
            crypto("ETHEREUM"),
            To::Profile(foreign.clone()),
            404,
            "not found for customer",
        ),
        (
            "USDC",
            "USD",
            crypto("ETHEREUM"),
            To::Fiat {
                fiat_account_id: unknown.clone(),
                memo: None,
            },
            404,
            "fiat account with id",
        ),
        (
            "USDC",
            "USDP",
            crypto("ETHEREUM"),
            To::Crypto(unknown.clone()),
            404,
            "crypto destination address",
        ),
        (
            "USDC",
            "USD",
            crypto("ETHEREUM"),
            To::Crypto(unknown.clone()),
            404,
            "crypto destination address",
        ),
        (
            "EURC",
            "USD",
            crypto("ETHEREUM"),
            me.clone(),
            400,
            "source_asset: unsupported asset",
        ),
    ];
    for (from_asset, to_asset, source, destination, status, needle) in cases {
        problem(
            client
                .create_rule("bad", &profile, from_asset, to_asset, &source, &destination)
                .await,
            status,
            needle,
        );
    }
    problem(
        client
            .create_rule("bad", &foreign, "USDC", "USD", &crypto("ETHEREUM"), &me)
            .await,
        404,
        "not found for customer",
    );
    let both = json!({ "ref_id": "x", "profile_id": profile, "source_asset": "USDC", "destination_asset": "USD",
        "source": { "crypto": { "network": "ETHEREUM" }, "fiat": { "network": "WIRE" } }, "destination": { "profile": { "profile_id": profile } } });
    raw_problem(
        client
            .raw(
                Method::POST,
                "/v2/orchestration/rules",
                Some(("application/json", both.to_string().into_bytes())),
            )
            .await
            .unwrap(),
        400,
        "exactly one of crypto or fiat",
    );
    let no_ref = json!({ "profile_id": profile, "source_asset": "USDC", "destination_asset": "USD", "source": { "crypto": { "network": "ETHEREUM" } }, "destination": { "profile": { "profile_id": profile } } });
    raw_problem(
        client
            .raw(
                Method::POST,
                "/v2/orchestration/rules",
                Some(("application/json", no_ref.to_string().into_bytes())),
            )
            .await
            .unwrap(),
        400,
        "ref_id is required",
    );

    let rule = client
        .create_rule("dup", &profile, "USDC", "USD", &crypto("ETHEREUM"), &me)
        .await
        .unwrap();
    let p = problem(
        client
            .create_rule("dup", &profile, "USDP", "USD", &crypto("SOLANA"), &me)
            .await,
        409,
        "already exists with ref_id 'dup'",
    );
    assert_eq!(p.meta.unwrap()["existing"]["id"], rule.id.as_str());
    assert_eq!(client.list_rules(&[]).await.unwrap().rules.len(), 1);

    let address = rule.source.crypto.unwrap().address.unwrap();
    for (network, addr, asset, amount, hash, status, needle) in [
        (
            "ETHEREUM",
            address.as_str(),
            "USDC",
            "1.0000001",
            "h1",
            400,
            "more than 6 decimal places",
        ),
        (
            "ETHEREUM",
            address.as_str(),
            "USD",
            "1",
            "h2",
            400,
            "stablecoin",
        ),
        (
            "ETHEREUM",
            address.as_str(),
            "USDC",
            "0",
            "h3",
            400,
            "greater than zero",
        ),
        (
            "ETHEREUM",
            address.as_str(),
            "USDC",
            "1",
            "",
            400,
            "crypto_tx_hash",
        ),
        (
            "SOLANA",
            address.as_str(),
            "USDC",
            "1",
            "h4",
            400,
            "address",
        ),
        (
            "BASE",
            address.as_str(),
            "USDC",
            "1",
            "h5",
            404,
            "not found for customer",
        ),
        (
            "ETHEREUM",
            "0x0000000000000000000000000000000000000001",
            "USDC",
            "1",
            "h6",
            404,
            "not found for customer",
        ),
    ] {
        problem(
            client
                .sandbox_crypto_deposit(network, addr, asset, amount, hash)
                .await,
            status,
            needle,
        );
    }
    problem(
        stranger
            .sandbox_crypto_deposit("ETHEREUM", &address, "USDC", "1", "h7")
            .await,
        404,
        "not found for customer",
    );
    let fiat_bad = json!({ "amount": "1.001", "asset": "USD", "memo_id": "NOPE", "fiat_network_instructions": { "wire": {} } });
    raw_problem(
        client
            .raw(
                Method::POST,
                "/v2/sandbox/fiat-deposits",
                Some(("application/json", fiat_bad.to_string().into_bytes())),
            )
            .await
            .unwrap(),
        400,
        "more than 2 decimal places",
    );
    let no_instructions = json!({ "amount": "1", "asset": "USD", "memo_id": "NOPE" });
    raw_problem(
        client
            .raw(
                Method::POST,
                "/v2/sandbox/fiat-deposits",
                Some(("application/json", no_instructions.to_string().into_bytes())),
            )
            .await
            .unwrap(),
        400,
        "fiat network instructions required",
    );
    problem(
        client.sandbox_fiat_deposit("NOPE", "1", None).await,
        404,
        "memo_id",
    );
    assert!(
        client.list_transfers(&[]).await.unwrap().items.is_empty(),
        "nothing moved"
    );
    db.assert_ledger_sound().await;
}

async fn lists_rules_with_filters(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let other = client.create_profile("second", None).await.unwrap().id;
    let mut ids = Vec::new();
    for (i, (p, from, to)) in [
        (&profile, "USDC", "USD"),
        (&other, "PYUSD", "USDC"),
        (&profile, "USDG", "USD"),
    ]
    .into_iter()
    .enumerate()
    {
        let rule = client
            .create_rule(
                &format!("l-{i}"),
                p,
                from,
                to,
                &From::Crypto {
                    network: "ETHEREUM".into(),
                },
                &To::Profile(p.to_string()),
            )
            .await
            .unwrap();
        ids.push(rule.id);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    client.delete_rule(&ids[2]).await.unwrap();
    let listed = |q: Vec<(&'static str, String)>| {
        let client = client.clone();
        async move {
            client
                .list_rules(&q)
                .await
                .unwrap()
                .rules
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(vec![]).await,
        ids.iter().rev().cloned().collect::<Vec<_>>(),
        "DESC by default"
    );
    assert_eq!(
        listed(vec![
            ("profile_id", profile.clone()),
            ("order", "ASC".into())
        ])
        .await,
        vec![ids[0].clone(), ids[2].clone()]
    );
    assert_eq!(listed(vec![("status", "ACTIVE".into())]).await.len(), 2);
    assert_eq!(
        listed(vec![("status", "DELETED".into())]).await,
        vec![ids[2].clone()]
    );
    assert_eq!(
        listed(vec![("destination_asset", "USDC".into())]).await,
        vec![ids[1].clone()]
    );
    assert_eq!(
        listed(vec![("source_asset", "USDC".into())]).await,
        vec![ids[0].clone()]
    );
    let page = client.list_rules(&[("limit", "2".into())]).await.unwrap();
    assert_eq!(page.rules.len(), 2);
    let rest = client
        .list_rules(&[
            ("limit", "2".into()),
            ("page_cursor", page.next_page_cursor.unwrap()),
        ])
        .await
        .unwrap();
    assert_eq!(rest.rules.len(), 1);
    assert!(rest.next_page_cursor.is_none());
    for (query, needle) in [
        ("status=LIVE", "status \"LIVE\""),
        ("source_asset=BTC", "source_asset"),
        ("profile_id=1", "profile_id must be a UUID"),
    ] {
        raw_problem(
            client
                .raw(
                    Method::GET,
                    &format!("/v2/orchestration/rules?{query}"),
                    None,
                )
                .await
                .unwrap(),
            400,
            needle,
        );
    }
}
