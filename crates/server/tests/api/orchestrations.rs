//! The Orchestrations API and the transfers it leaves, end to end.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;
use stableport_client::{
    Client, CreateConversion, CreateOrchestration, OrchestrationDestination as To,
};

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    converts_between_profiles,
    matches_the_legacy_api,
    redeems_to_a_bank_account,
    withdraws_to_a_crypto_address,
    fails_on_purpose_and_refunds,
    refuses_bad_orchestrations,
    lists_with_every_filter,
    lists_transfers_of_every_movement,
    finishes_each_once_across_replicas,
    holds_until_released_in_manual_mode,
    completes_after_a_restart,
    delivers_in_bulk_and_fails_only_what_passes_the_maximum,
);

const ETH_ADDRESS: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

async fn wait_status(client: &Client, id: &str, status: &str) -> stableport_client::Orchestration {
    eventually(status, || async {
        client.orchestration(id).await.unwrap().status == status
    })
    .await;
    client.orchestration(id).await.unwrap()
}

async fn converts_between_profiles(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let from = funded_profile(&client, "USDC", "250.5").await;
    let to = client.create_profile("treasury", None).await.unwrap().id;

    let mut request =
        CreateOrchestration::new("o-1", &from, "USDC", "USDP", "100.25", To::profile(&to));
    request.metadata = Some([("my_id".to_string(), "42".to_string())].into());
    let created = client.create_orchestration(&request).await.unwrap();
    assert_eq!(created.status, "PROCESSING");
    assert_eq!(created.customer_id, server.customer_id);
    assert_eq!(
        (created.profile_id.as_str(), created.ref_id.as_str()),
        (from.as_str(), "o-1")
    );
    assert_eq!(
        (
            created.source_asset.as_str(),
            created.destination_asset.as_str()
        ),
        ("USDC", "USDP")
    );
    assert_eq!(created.source_amount, "100.25");
    assert_eq!(created.source.profile.as_ref().unwrap().profile_id, from);
    assert_eq!(created.destination.profile.as_ref().unwrap().profile_id, to);
    assert_eq!(created.identity_id, "00000000-0000-0000-0000-000000000000");
    assert_eq!(created.source_transfer.status, "COMPLETED");
    assert_eq!(created.destination_transfer.status, "PENDING");
    assert_eq!(created.metadata, request.metadata);
    assert!(created.orchestration_rule_id.is_none() && created.fail_reason.is_none());
    assert_eq!(
        available(&client, &from, "USDC").await,
        "150.25",
        "the source leaves at once"
    );

    let done = wait_status(&client, &created.id, "COMPLETED").await;
    assert_eq!(done.destination_transfer.status, "COMPLETED");
    assert_eq!(available(&client, &to, "USDP").await, "100.25");
    let credit = client
        .transfer(&done.destination_transfer.transfer_id)
        .await
        .unwrap();
    assert_eq!(
        (
            credit.kind.as_str(),
            credit.direction.as_str(),
            credit.status.as_str()
        ),
        ("INTERNAL_TRANSFER_CREDIT", "CREDIT", "COMPLETED")
    );
    assert_eq!(
        (
            credit.profile_id.as_str(),
            credit.asset.as_str(),
            credit.amount.as_str()
        ),
        (to.as_str(), "USDP", "100.25")
    );
    assert_eq!(credit.group_id.as_deref(), Some(created.id.as_str()));
    // Same asset to another profile is a plain move.
    let moved = client
        .create_orchestration(&CreateOrchestration::new(
            "o-2",
            &from,
            "USDC",
            "USDC",
            "0.25",
            To::profile(&to),
        ))
        .await
        .unwrap();
    wait_status(&client, &moved.id, "COMPLETED").await;
    assert_eq!(available(&client, &to, "USDC").await, "0.25");
    assert_eq!(available(&client, &from, "USDC").await, "150");
    db.assert_ledger_sound().await;
}

async fn matches_the_legacy_api(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let legacy = funded_profile(&client, "USD", "1000").await;
    let modern = funded_profile(&client, "USD", "1000").await;

    let conversion = client
        .create_conversion(&CreateConversion {
            ref_id: Some("usd-pyusd-a3b1c2d4".into()),
            profile_id: legacy.clone(),
            amount: "100".into(),
            source_asset: "USD".into(),
            target_asset: "PYUSD".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // The same request, migrated as seed 000 shows: one profile as source and destination.
    let orchestration = client
        .create_orchestration(&CreateOrchestration::new(
            "usd-pyusd-a3b1c2d4",
            &modern,
            "USD",
            "PYUSD",
            "100",
            To::profile(&modern),
        ))
        .await
        .unwrap();
    eventually("both done", || async {
        client.conversion(&conversion.id).await.unwrap().status == "SETTLED"
            && client
                .orchestration(&orchestration.id)
                .await
                .unwrap()
                .status
                == "COMPLETED"
    })
    .await;
    assert_eq!(
        balances(&client, &legacy).await,
        balances(&client, &modern).await
    );
    assert_eq!(available(&client, &modern, "PYUSD").await, "100");

    let conversions = client
        .list_conversions(&Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(
        conversions.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![conversion.id.clone()]
    );
    let orchestrations = client
        .list_orchestrations(&[("profile_id", modern.clone())])
        .await
        .unwrap()
        .items;
    assert_eq!(
        orchestrations
            .iter()
            .map(|o| o.id.clone())
            .collect::<Vec<_>>(),
        vec![orchestration.id.clone()]
    );
    assert!(client
        .list_orchestrations(&[("profile_id", legacy.clone())])
        .await
        .unwrap()
        .items
        .is_empty());
    db.assert_ledger_sound().await;
}

async fn redeems_to_a_bank_account(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USDC", "500").await;
    let bank = bank_account(&client).await;

    let request = CreateOrchestration::new(
        "redeem-1",
        &profile,
        "USDC",
        "USD",
        "100",
        To::fiat(&bank, Some("invoice 7")),
    );
    let created = client.create_orchestration(&request).await.unwrap();
    let fiat = created.destination.fiat.clone().unwrap();
    assert_eq!(
        (fiat.bank_account_id.as_str(), fiat.memo.as_deref()),
        (bank.as_str(), Some("invoice 7"))
    );
    let done = wait_status(&client, &created.id, "COMPLETED").await;
    assert_eq!(available(&client, &profile, "USDC").await, "400");
    assert_eq!(
        available(&client, &profile, "USD").await,
        "0",
        "the USD went to the bank, not the profile"
    );
    let wire = client
        .transfer(&done.destination_transfer.transfer_id)
        .await
        .unwrap();
    assert_eq!(
        (
            wire.kind.as_str(),
            wire.direction.as_str(),
            wire.status.as_str()
        ),
        ("WIRE_WITHDRAWAL", "DEBIT", "COMPLETED")
    );
    assert_eq!(
        (
            wire.asset.as_str(),
            wire.amount.as_str(),
            wire.fee.as_str(),
            wire.total.as_str()
        ),
        ("USD", "100", "0", "100")
    );
    assert_eq!(wire.fiat_account_id.as_deref(), Some(bank.as_str()));
    assert_eq!(wire.memo.as_deref(), Some("invoice 7"));
    db.assert_ledger_sound().await;
}

async fn withdraws_to_a_crypto_address(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "50").await;
    let address = crypto_address(&client, "ETHEREUM", &ETH_ADDRESS.to_lowercase()).await;

    let created = client
        .create_orchestration(&CreateOrchestration::new(
            "mint-out",
            &profile,
            "USD",
            "USDC",
            "50",
            To::crypto(&address),
        ))
        .await
        .unwrap();
    let crypto = created.destination.crypto.clone().unwrap();
    assert_eq!(
        crypto.address.as_deref(),
        Some(ETH_ADDRESS),
        "stored in its EIP-55 form"
    );
    assert_eq!(crypto.network.as_deref(), Some("ETHEREUM"));
    let done = wait_status(&client, &created.id, "COMPLETED").await;
    let withdrawal = client
        .transfer(&done.destination_transfer.transfer_id)
        .await
        .unwrap();
    assert_eq!(
        (withdrawal.kind.as_str(), withdrawal.status.as_str()),
        ("CRYPTO_WITHDRAWAL", "COMPLETED")
    );
    assert_eq!(withdrawal.destination_address.as_deref(), Some(ETH_ADDRESS));
    assert_eq!(withdrawal.crypto_network.as_deref(), Some("ETHEREUM"));
    let hash = withdrawal.crypto_tx_hash.clone().unwrap();
    assert!(
        hash.len() == 66
            && hash.starts_with("0x")
            && hash[2..].chars().all(|c| c.is_ascii_hexdigit()),
        "{hash}"
    );
    let by_hash = client
        .list_transfers(&[("crypto_tx_hashes", hash)])
        .await
        .unwrap()
        .items;
    assert_eq!(
        by_hash.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        vec![withdrawal.id]
    );
    assert_eq!(available(&client, &profile, "USD").await, "0");
    db.assert_ledger_sound().await;
}

async fn fails_on_purpose_and_refunds(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USDG", "30").await;
    let address = crypto_address(
        &client,
        "SOLANA",
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
    )
    .await;
    send(
        &client,
        Method::PUT,
        &format!("/v2/sandbox/crypto-destination-addresses/{address}"),
        json!({ "fail_withdrawals": true }),
    )
    .await;

    let created = client
        .create_orchestration(&CreateOrchestration::new(
            "doomed",
            &profile,
            "USDG",
            "USDC",
            "30",
            To::crypto(&address),
        ))
        .await
        .unwrap();
    let failed = wait_status(&client, &created.id, "FAILED").await;
    assert!(failed
        .fail_reason
        .unwrap()
        .detail
        .contains("SOLANA transaction"));
    assert_eq!(failed.destination_transfer.status, "FAILED");
    assert_eq!(
        available(&client, &profile, "USDG").await,
        "30",
        "the source came back unconverted"
    );
    let legs = client
        .list_transfers(&[("group_ids", created.id.clone()), ("order", "ASC".into())])
        .await
        .unwrap()
        .items;
    let kinds: Vec<_> = legs
        .iter()
        .map(|t| (t.kind.as_str(), t.status.as_str()))
        .collect();
    assert!(
        kinds.contains(&("INTERNAL_TRANSFER_DEBIT", "COMPLETED")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("CRYPTO_WITHDRAWAL", "FAILED")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("INTERNAL_TRANSFER_CREDIT", "COMPLETED")),
        "the refund is visible: {kinds:?}"
    );

    // A bank that returns the wire.
    let bank = bank_account(&client).await;
    send(
        &client,
        Method::PUT,
        &format!("/v2/sandbox/fiat-accounts/{bank}"),
        json!({ "fail_withdrawals": true }),
    )
    .await;
    let wire = client
        .create_orchestration(&CreateOrchestration::new(
            "returned",
            &profile,
            "USDG",
            "USD",
            "10",
            To::fiat(&bank, None),
        ))
        .await
        .unwrap();
    let failed = wait_status(&client, &wire.id, "FAILED").await;
    assert!(failed.fail_reason.unwrap().detail.contains(&bank));
    assert_eq!(available(&client, &profile, "USDG").await, "30");
    db.assert_ledger_sound().await;
}

async fn refuses_bad_orchestrations(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.fiat_account_approval_delay = std::time::Duration::from_secs(3600)
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USDC", "100").await;
    let other = client.create_profile("other", None).await.unwrap().id;
    let pending_bank = new_bank_account(&client).await;
    let address = crypto_address(&client, "BASE", ETH_ADDRESS).await;
    let stranger = other_customer(&server, &db).await;
    let foreign_profile = default_profile(&stranger).await;
    let before = balances(&client, &profile).await;

    let ok = |to: To| CreateOrchestration::new("r", &profile, "USDC", "USDP", "1", to);
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(CreateOrchestration, u16, &str)> = vec![
        (
            CreateOrchestration {
                destination: Default::default(),
                ..ok(To::profile(&other))
            },
            400,
            "exactly one of profile, fiat or crypto",
        ),
        (
            CreateOrchestration {
                destination: To {
                    fiat: To::fiat(&pending_bank, None).fiat,
                    ..To::profile(&other)
                },
                ..ok(To::profile(&other))
            },
            400,
            "exactly one",
        ),
        (ok(To::profile(&unknown)), 404, "not found for customer"),
        (
            ok(To::profile(&foreign_profile)),
            404,
            "not found for customer",
        ),
        (
            ok(To::profile("not-a-uuid")),
            400,
            "destination.profile.profile_id must be a UUID",
        ),
        (
            CreateOrchestration::new(
                "r",
                &foreign_profile,
                "USDC",
                "USDP",
                "1",
                To::profile(&other),
            ),
            404,
            "not found for customer",
        ),
        (
            CreateOrchestration {
                destination_asset: "USD".into(),
                ..ok(To::fiat(&pending_bank, None))
            },
            400,
            "is PENDING",
        ),
        (
            CreateOrchestration {
                destination_asset: "USD".into(),
                ..ok(To::fiat(&unknown, None))
            },
            404,
            "fiat account with id",
        ),
        (ok(To::fiat(&pending_bank, None)), 400, "is PENDING"),
        (
            ok(To::crypto(&unknown)),
            404,
            "crypto destination address with id",
        ),
        (
            CreateOrchestration {
                destination_asset: "USD".into(),
                ..ok(To::crypto(&address))
            },
            400,
            "delivers a stablecoin",
        ),
        (
            CreateOrchestration {
                destination_asset: "USDC".into(),
                ..ok(To::profile(&profile))
            },
            400,
            "nothing would move",
        ),
        (
            CreateOrchestration {
                source_asset: "EURC".into(),
                ..ok(To::profile(&other))
            },
            400,
            "source_asset: unsupported asset",
        ),
        (
            CreateOrchestration {
                source_amount: "0.000000001".into(),
                ..ok(To::profile(&other))
            },
            400,
            "decimal places",
        ),
        (
            CreateOrchestration {
                source_amount: "-1".into(),
                ..ok(To::profile(&other))
            },
            400,
            "source_amount",
        ),
        (
            CreateOrchestration {
                source_amount: "101".into(),
                ..ok(To::profile(&other))
            },
            403,
            "insufficient USDC funds",
        ),
        (
            CreateOrchestration {
                ref_id: "".into(),
                ..ok(To::profile(&other))
            },
            400,
            "ref_id",
        ),
        (
            CreateOrchestration {
                source: Default::default(),
                ..ok(To::profile(&other))
            },
            400,
            "source.profile.profile_id is required",
        ),
    ];
    for (request, status, needle) in cases {
        problem(client.create_orchestration(&request).await, status, needle);
    }
    // A bank withdrawal must deliver USD.
    let bank = new_bank_account(&client).await;
    set_fiat_status(&client, &bank, "APPROVED").await;
    problem(
        client
            .create_orchestration(&ok(To::fiat(&bank, None)))
            .await,
        400,
        "delivers USD",
    );
    let rejected = new_bank_account(&client).await;
    set_fiat_status(&client, &rejected, "REJECTED").await;
    let to_rejected = CreateOrchestration {
        destination_asset: "USD".into(),
        ..ok(To::fiat(&rejected, None))
    };
    problem(
        client.create_orchestration(&to_rejected).await,
        400,
        "is REJECTED",
    );

    let first = client
        .create_orchestration(&CreateOrchestration::new(
            "once",
            &profile,
            "USDC",
            "USDP",
            "1",
            To::profile(&other),
        ))
        .await
        .unwrap();
    let again =
        CreateOrchestration::new("once", &profile, "USDC", "USDP", "2", To::profile(&other));
    let p = problem(
        client.create_orchestration(&again).await,
        409,
        "orchestration already exists with ref_id 'once'",
    );
    assert_eq!(p.meta.unwrap()["existing"]["id"], first.id.as_str());
    assert_eq!(
        available(&client, &profile, "USDC").await,
        "99",
        "only the first moved"
    );
    let mut after = balances(&client, &profile).await;
    after
        .iter_mut()
        .filter(|b| b.asset == "USDC")
        .for_each(|b| b.available = "100".into());
    assert_eq!(after, before);

    // A retry gets the stored one even when the request would now be
    // refused: here its bank account was rejected after the first.
    let to_bank = CreateOrchestration {
        destination_asset: "USD".into(),
        ..CreateOrchestration::new("paid", &profile, "USDC", "USD", "1", To::fiat(&bank, None))
    };
    let paid = client.create_orchestration(&to_bank).await.unwrap();
    set_fiat_status(&client, &bank, "REJECTED").await;
    let refused = CreateOrchestration {
        ref_id: "paid-again".into(),
        ..to_bank.clone()
    };
    problem(
        client.create_orchestration(&refused).await,
        400,
        "is REJECTED",
    );
    let p = problem(
        client.create_orchestration(&to_bank).await,
        409,
        "orchestration already exists with ref_id 'paid'",
    );
    assert_eq!(p.meta.unwrap()["existing"]["id"], paid.id.as_str());
    db.assert_ledger_sound().await;
}

async fn lists_with_every_filter(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let a = funded_profile(&client, "USD", "100").await;
    let b = funded_profile(&client, "USDC", "100").await;
    let mut made = Vec::new();
    for (i, (profile, from, to)) in [
        (&a, "USD", "USDC"),
        (&b, "USDC", "USD"),
        (&a, "USD", "PYUSD"),
        (&b, "USDC", "USDG"),
    ]
    .into_iter()
    .enumerate()
    {
        let dest = if profile == &a { &b } else { &a };
        let o = client
            .create_orchestration(&CreateOrchestration::new(
                &format!("f-{i}"),
                profile,
                from,
                to,
                "1",
                To::profile(dest),
            ))
            .await
            .unwrap();
        made.push(o);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    client.release_orchestration(&made[0].id).await.unwrap();
    wait_status(&client, &made[0].id, "COMPLETED").await;

    let ids = |list: Vec<stableport_client::Orchestration>| {
        list.into_iter().map(|o| o.id).collect::<Vec<_>>()
    };
    let all = client.list_orchestrations(&[]).await.unwrap();
    assert_eq!(
        ids(all.items),
        made.iter().rev().map(|o| o.id.clone()).collect::<Vec<_>>(),
        "DESC by default"
    );
    let of_a = client
        .list_orchestrations(&[("profile_id", a.clone())])
        .await
        .unwrap();
    assert_eq!(of_a.items.len(), 2);
    let two_assets = client
        .list_orchestrations(&[
            ("destination_asset", "USD".into()),
            ("destination_asset", "USDG".into()),
        ])
        .await
        .unwrap();
    assert_eq!(two_assets.items.len(), 2);
    let processing = client
        .list_orchestrations(&[("status", "PROCESSING".into())])
        .await
        .unwrap();
    assert_eq!(processing.items.len(), 3);
    let by_id = client
        .list_orchestrations(&[
            ("orchestration_id", made[2].id.clone()),
            ("source_asset", "USD".into()),
        ])
        .await
        .unwrap();
    assert_eq!(ids(by_id.items), vec![made[2].id.clone()]);
    let since = client
        .list_orchestrations(&[
            ("created_at.gte", made[2].created_at.clone()),
            ("order", "ASC".into()),
        ])
        .await
        .unwrap();
    assert_eq!(
        ids(since.items),
        vec![made[2].id.clone(), made[3].id.clone()]
    );
    let before = client
        .list_orchestrations(&[("created_at.lt", made[1].created_at.clone())])
        .await
        .unwrap();
    assert_eq!(ids(before.items), vec![made[0].id.clone()]);
    let page = client
        .list_orchestrations(&[("limit", "3".into())])
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    let rest = client
        .list_orchestrations(&[
            ("limit", "3".into()),
            ("page_cursor", page.next_page_cursor.unwrap()),
        ])
        .await
        .unwrap();
    assert_eq!(ids(rest.items), vec![made[0].id.clone()]);
    assert!(rest.next_page_cursor.is_none());

    for (query, needle) in [
        (
            "status=DONE",
            "status must be PROCESSING, COMPLETED or FAILED",
        ),
        ("source_asset=BTC", "source_asset: unsupported asset"),
        ("profile_id=nope", "profile_id must be a UUID"),
        ("created_at.gt=soon", "created_at.gt"),
        ("limit=0", "limit"),
    ] {
        raw_problem(
            client
                .raw(
                    Method::GET,
                    &format!("/v2/orchestration/orchestrations?{query}"),
                    None,
                )
                .await
                .unwrap(),
            400,
            needle,
        );
    }
    let too_many: String = (0..101)
        .map(|_| format!("orchestration_id={}&", uuid::Uuid::new_v4()))
        .collect();
    raw_problem(
        client
            .raw(
                Method::GET,
                &format!("/v2/orchestration/orchestrations?{too_many}"),
                None,
            )
            .await
            .unwrap(),
        400,
        "at most 100",
    );
    problem(
        client
            .orchestration(&uuid::Uuid::new_v4().to_string())
            .await,
        404,
        "not found for customer",
    );
}

async fn lists_transfers_of_every_movement(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let deposit = client.deposit(&profile, "USD", "100").await.unwrap();
    let conversion = client
        .create_conversion(&CreateConversion {
            profile_id: profile.clone(),
            amount: "40".into(),
            source_asset: "USD".into(),
            target_asset: "USDP".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    eventually("settled", || async {
        client.conversion(&conversion.id).await.unwrap().status == "SETTLED"
    })
    .await;

    let wire = client.transfer(&deposit).await.unwrap();
    assert_eq!(
        (
            wire.kind.as_str(),
            wire.direction.as_str(),
            wire.status.as_str(),
            wire.amount.as_str()
        ),
        ("WIRE_DEPOSIT", "CREDIT", "COMPLETED", "100")
    );
    let legs = client
        .list_transfers(&[
            ("group_ids", conversion.id.clone()),
            ("order", "ASC".into()),
        ])
        .await
        .unwrap()
        .items;
    let shape: Vec<_> = legs
        .iter()
        .map(|t| (t.kind.as_str(), t.asset.as_str(), t.amount.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("INTERNAL_TRANSFER_DEBIT", "USD", "40"),
            ("INTERNAL_TRANSFER_CREDIT", "USDP", "40")
        ]
    );

    let all = client.list_transfers(&[]).await.unwrap().items;
    assert_eq!(all.len(), 3);
    assert!(all
        .iter()
        .all(|t| t.customer_id == server.customer_id && t.fee == "0" && t.total == t.amount));
    let credits = client
        .list_transfers(&[
            ("type", "INTERNAL_TRANSFER_CREDIT".into()),
            ("type", "WIRE_DEPOSIT".into()),
        ])
        .await
        .unwrap()
        .items;
    assert_eq!(credits.len(), 2);
    let mine = client
        .list_transfers(&[
            ("profile_ids", profile.clone()),
            ("statuses", "COMPLETED".into()),
            ("limit", "2".into()),
        ])
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 2);
    let rest = client
        .list_transfers(&[
            ("profile_ids", profile.clone()),
            ("statuses", "COMPLETED".into()),
            ("limit", "2".into()),
            ("page_cursor", mine.next_page_cursor.unwrap()),
        ])
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    let seen: HashSet<String> = mine
        .items
        .iter()
        .chain(rest.items.iter())
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(seen.len(), 3);

    for (query, needle) in [
        ("type=SWAP", "type \"SWAP\" is not one of"),
        ("statuses=DONE", "statuses"),
        ("profile_ids=x", "profile_ids must be a UUID"),
        ("order_by=AMOUNT", "order_by"),
    ] {
        raw_problem(
            client
                .raw(
                    Method::GET,
                    &format!("/v2/transfer/transfers?{query}"),
                    None,
                )
                .await
                .unwrap(),
            400,
            needle,
        );
    }
    let stranger = other_customer(&server, &db).await;
    problem(
        stranger.transfer(&deposit).await,
        404,
        "not found for customer",
    );
    assert!(stranger.list_transfers(&[]).await.unwrap().items.is_empty());
}

async fn finishes_each_once_across_replicas(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = TestServer::start(&db).await;
    let b = TestServer::start(&db).await;
    let on_a = a.client().await;
    let on_b = judged(&b.url)
        .login(&a.client_id, &a.client_secret, None)
        .await
        .unwrap();
    let from = funded_profile(&on_a, "USD", "1000").await;
    let to = on_a.create_profile("to", None).await.unwrap().id;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = if i % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        let request = CreateOrchestration::new(
            &format!("r-{i}"),
            &from,
            "USD",
            "USDC",
            "25",
            To::profile(&to),
        );
        tasks.push(tokio::spawn(async move {
            client.create_orchestration(&request).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.problem().expect("problem").status, 403),
        }
    }
    assert_eq!(ok, 40);
    eventually("all completed", || async {
        on_a.list_orchestrations(&[("status", "COMPLETED".into()), ("limit", "1000".into())])
            .await
            .unwrap()
            .items
            .len()
            == 40
    })
    .await;
    assert_eq!(
        available(&on_a, &to, "USDC").await,
        "1000",
        "each delivered exactly once"
    );
    let credits = on_a
        .list_transfers(&[
            ("type", "INTERNAL_TRANSFER_CREDIT".into()),
            ("limit", "1000".into()),
        ])
        .await
        .unwrap()
        .items;
    assert_eq!(credits.len(), 40);
    db.assert_ledger_sound().await;
}

async fn holds_until_released_in_manual_mode(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "10").await;
    let o = client
        .create_orchestration(&CreateOrchestration::new(
            "held",
            &profile,
            "USD",
            "USDC",
            "10",
            To::profile(&profile),
        ))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(
        client.orchestration(&o.id).await.unwrap().status,
        "PROCESSING"
    );
    client.release_orchestration(&o.id).await.unwrap();
    wait_status(&client, &o.id, "COMPLETED").await;
    problem(
        client.release_orchestration(&o.id).await,
        409,
        "is COMPLETED",
    );
    assert_eq!(available(&client, &profile, "USDC").await, "10");
}

async fn completes_after_a_restart(backend: Backend) {
    let db = TestDb::new(backend).await;
    let delay =
        |c: &mut stableport_server::Config| c.settlement_delay = std::time::Duration::from_secs(1);
    let mut server = TestServer::start_with(&db, delay).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "10").await;
    let o = client
        .create_orchestration(&CreateOrchestration::new(
            "survivor",
            &profile,
            "USD",
            "PYUSD",
            "10",
            To::profile(&profile),
        ))
        .await
        .unwrap();
    server.stop();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let back = TestServer::start_with(&db, delay).await;
    let client = back.client().await;
    let done = wait_status(&client, &o.id, "COMPLETED").await;
    assert_eq!(done.destination_transfer.status, "COMPLETED");
    assert_eq!(available(&client, &profile, "PYUSD").await, "10");
    let credits = client
        .list_transfers(&[
            ("group_ids", o.id.clone()),
            ("type", "INTERNAL_TRANSFER_CREDIT".into()),
        ])
        .await
        .unwrap()
        .items;
    assert_eq!(credits.len(), 1, "delivered exactly once");
    db.assert_ledger_sound().await;
}

/// Deliveries into profiles go in bulk, their credits summed per balance.
/// When a sum would pass the balance's maximum, those orchestrations go one
/// by one: the one that still fits completes, the other fails and is
/// refunded; one into another profile, due in the same batch, completes.
async fn delivers_in_bulk_and_fails_only_what_passes_the_maximum(backend: Backend) {
    let db = TestDb::new(backend).await;
    let delay =
        |c: &mut stableport_server::Config| c.settlement_delay = std::time::Duration::from_secs(1);
    let server = TestServer::start_with(&db, delay).await;
    let client = server.client().await;
    let source = funded_profile(&client, "USD", "100").await;
    // USDP's maximum is 40,000,000,000 (4e18 units of 8 decimals), a deposit's
    // 1,000,000,000: 40 deposits leave room for 10.
    let full = funded_profile(&client, "USDP", "999999990").await;
    for _ in 0..39 {
        client.deposit(&full, "USDP", "1000000000").await.unwrap();
    }
    let other = client.create_profile("other", None).await.unwrap().id;
    let send = |ref_id: &'static str, to: String| {
        let client = client.clone();
        let source = source.clone();
        async move {
            let request =
                CreateOrchestration::new(ref_id, &source, "USD", "USDP", "6", To::profile(&to));
            client.create_orchestration(&request).await.unwrap()
        }
    };
    let made = vec![
        send("fits-a", full.clone()).await,
        send("fits-b", full.clone()).await,
        send("elsewhere", other.clone()).await,
    ];
    let mut ended = Vec::new();
    for o in &made {
        eventually("delivered or failed", || async {
            let status = client.orchestration(&o.id).await.unwrap().status;
            status == "COMPLETED" || status == "FAILED"
        })
        .await;
        ended.push(client.orchestration(&o.id).await.unwrap());
    }
    let statuses: Vec<&str> = ended.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(statuses[2], "COMPLETED", "{statuses:?}");
    let mut into_full = vec![statuses[0], statuses[1]];
    into_full.sort_unstable();
    assert_eq!(into_full, ["COMPLETED", "FAILED"], "{ended:?}");
    let failed = ended.iter().find(|o| o.status == "FAILED").unwrap();
    assert!(
        failed
            .fail_reason
            .as_ref()
            .map_or("", |r| r.detail.as_str())
            .contains("exceed its maximum"),
        "{failed:?}"
    );
    assert_eq!(available(&client, &full, "USDP").await, "39999999996");
    assert_eq!(available(&client, &other, "USDP").await, "6");
    // 18 left, the failed one's 6 refunded.
    assert_eq!(available(&client, &source, "USD").await, "88");
    db.assert_ledger_sound().await;
}
