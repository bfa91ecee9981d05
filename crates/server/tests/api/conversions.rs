//! The Stablecoin Conversion API: create, read, list, settle, cancel.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use stableport_client::{Client, CreateConversion, ListConversions};

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    converts_both_ways_with_every_field,
    settles_to_the_recipient,
    enforces_pairs_and_precision,
    refuses_insufficient_funds,
    refuses_a_repeated_ref_id,
    cancels_and_refunds,
    manual_settlement,
    filters_and_pages_lists,
    walks_every_conversion_once_while_new_ones_arrive,
    never_overdraws_under_concurrency,
    settles_after_a_restart,
);

fn usd_to(profile: &str, target: &str, amount: &str) -> CreateConversion {
    CreateConversion {
        profile_id: profile.into(),
        amount: amount.into(),
        source_asset: "USD".into(),
        target_asset: target.into(),
        ..Default::default()
    }
}

async fn wait_settled(client: &Client, id: &str) {
    eventually("settlement", || async {
        client.conversion(id).await.unwrap().status == "SETTLED"
    })
    .await;
}

async fn converts_both_ways_with_every_field(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "1000").await;

    let mut metadata = BTreeMap::new();
    metadata.insert("skey".to_string(), "svalue".to_string());
    let request = CreateConversion {
        ref_id: Some("refid-1".into()),
        metadata: Some(metadata.clone()),
        ..usd_to(&profile, "USDP", "100.10")
    };
    let created = client.create_conversion(&request).await.unwrap();
    assert_eq!(created.status, "CREATED");
    assert_eq!(created.amount, "100.1");
    assert_eq!(
        (created.source_asset.as_str(), created.target_asset.as_str()),
        ("USD", "USDP")
    );
    assert_eq!(created.identity_id, "00000000-0000-0000-0000-000000000000");
    assert_eq!(created.account_id, "00000000-0000-0000-0000-000000000000");
    assert_eq!(created.ref_id.as_deref(), Some("refid-1"));
    assert_eq!(created.metadata, Some(metadata));
    assert!(
        created.created_at.ends_with('Z')
            && created.settled_at.is_none()
            && created.cancelled_at.is_none()
    );
    assert_eq!(client.conversion(&created.id).await.unwrap(), created);
    // The source leaves at once; the target arrives on settlement.
    assert_eq!(available(&client, &profile, "USD").await, "899.9");
    assert_eq!(available(&client, &profile, "USDP").await, "0");

    let settled = client.settle_conversion(&created.id).await.unwrap();
    assert_eq!(settled.status, "SETTLED");
    assert!(settled.settled_at.is_some());
    assert_eq!(available(&client, &profile, "USDP").await, "100.1");

    // And back, with explicit third-party ids.
    let (identity, account) = approved_account(&client).await;
    let back = client
        .create_conversion(&CreateConversion {
            profile_id: profile.clone(),
            amount: "0.1".into(),
            source_asset: "USDP".into(),
            target_asset: "USD".into(),
            identity_id: Some(identity.clone()),
            account_id: Some(account.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (back.identity_id.as_str(), back.account_id.as_str()),
        (identity.as_str(), account.as_str())
    );
    client.settle_conversion(&back.id).await.unwrap();
    assert_eq!(available(&client, &profile, "USDP").await, "100");
    assert_eq!(available(&client, &profile, "USD").await, "900");

    for coin in ["PYUSD", "USDG", "USDC"] {
        let c = client
            .create_conversion(&usd_to(&profile, coin, "1.5"))
            .await
            .unwrap();
        client.settle_conversion(&c.id).await.unwrap();
        assert_eq!(available(&client, &profile, coin).await, "1.5");
    }
    db.assert_ledger_sound().await;
}

async fn settles_to_the_recipient(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let payer = funded_profile(&client, "USD", "10").await;
    let payee = client.create_profile("payee", None).await.unwrap().id;
    let c = client
        .create_conversion(&CreateConversion {
            recipient_profile_id: Some(payee.clone()),
            ..usd_to(&payer, "USDC", "10")
        })
        .await
        .unwrap();
    assert_eq!(c.recipient_profile_id.as_deref(), Some(payee.as_str()));
    wait_settled(&client, &c.id).await;
    assert_eq!(available(&client, &payee, "USDC").await, "10");
    assert_eq!(available(&client, &payer, "USDC").await, "0");
    assert_eq!(available(&client, &payer, "USD").await, "0");
    let settled = client.conversion(&c.id).await.unwrap();
    assert!(settled.settled_at.is_some() && settled.updated_at >= settled.created_at);
    db.assert_ledger_sound().await;
}

async fn enforces_pairs_and_precision(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    client.deposit(&profile, "PYUSD", "100").await.unwrap();

    let coin_to_coin = CreateConversion {
        source_asset: "PYUSD".into(),
        ..usd_to(&profile, "USDP", "1")
    };
    problem(
        client.create_conversion(&coin_to_coin).await,
        400,
        "cannot convert PYUSD to USDP",
    );
    problem(
        client
            .create_conversion(&usd_to(&profile, "USD", "1"))
            .await,
        400,
        "must differ",
    );
    // A conversion takes the lowest precision of its pair: cents, either way.
    problem(
        client
            .create_conversion(&usd_to(&profile, "USDP", "0.001"))
            .await,
        400,
        "more than 2 decimal places",
    );
    let pyusd_out = CreateConversion {
        source_asset: "PYUSD".into(),
        ..usd_to(&profile, "USD", "1.001")
    };
    problem(
        client.create_conversion(&pyusd_out).await,
        400,
        "more than 2 decimal places",
    );
    assert!(client
        .create_conversion(&usd_to(&profile, "USDP", "0.01"))
        .await
        .is_ok());
    assert!(client
        .create_conversion(&usd_to(&profile, "USDP", "1.500"))
        .await
        .is_ok());
    assert_eq!(available(&client, &profile, "USD").await, "98.49");
    assert_eq!(available(&client, &profile, "PYUSD").await, "100");
}

async fn refuses_insufficient_funds(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "358.24").await;
    let p = problem(
        client
            .create_conversion(&usd_to(&profile, "USDP", "999"))
            .await,
        403,
        "",
    );
    assert_eq!(
        p.kind,
        "https://developer.paxos.com/docs/v2/problems/insufficient-funds"
    );
    assert_eq!(p.title, "Insufficient Funds");
    assert_eq!(
        p.detail,
        format!("insufficient USD funds in profile {profile}: 999 needed, 358.24 available")
    );
    let meta = p.meta.unwrap();
    assert_eq!(meta["asset"], "USD");
    assert_eq!(meta["needed"], "999");
    assert_eq!(meta["available"], "358.24");
    assert_eq!(meta["profile_id"], profile.as_str());
    assert_eq!(available(&client, &profile, "USD").await, "358.24");
    assert!(client
        .list_conversions(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn refuses_a_repeated_ref_id(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    let request = CreateConversion {
        ref_id: Some("once".into()),
        ..usd_to(&profile, "USDP", "3")
    };
    let first = client.create_conversion(&request).await.unwrap();
    let p = problem(
        client.create_conversion(&request).await,
        409,
        "conversion already exists with ref_id 'once'",
    );
    assert_eq!(
        p.kind,
        "https://developer.paxos.com/docs/v2/problems/already-exists"
    );
    assert_eq!(p.title, "Already Exists");
    let existing: stableport_client::Conversion =
        serde_json::from_value(p.meta.unwrap()["existing"].clone()).unwrap();
    assert_eq!(existing.id, first.id);
    assert_eq!(
        available(&client, &profile, "USD").await,
        "97",
        "the repeat is not debited"
    );

    // Concurrent repeats: exactly one wins, whichever batch they land in.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            let request = CreateConversion {
                ref_id: Some("race".into()),
                ..usd_to(&profile, "USDP", "1")
            };
            tokio::spawn(async move { client.create_conversion(&request).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e.problem().unwrap().status, 409),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(available(&client, &profile, "USD").await, "96");
    db.assert_ledger_sound().await;
}

async fn cancels_and_refunds(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "50").await;
    let c = client
        .create_conversion(&usd_to(&profile, "PYUSD", "20"))
        .await
        .unwrap();
    assert_eq!(available(&client, &profile, "USD").await, "30");
    let cancelled = client.cancel_conversion(&c.id).await.unwrap();
    assert_eq!(cancelled.status, "CANCELLED");
    assert!(cancelled.cancelled_at.is_some() && cancelled.settled_at.is_none());
    assert_eq!(available(&client, &profile, "USD").await, "50");
    assert_eq!(available(&client, &profile, "PYUSD").await, "0");

    problem(
        client.cancel_conversion(&c.id).await,
        409,
        "is CANCELLED and cannot be cancelled",
    );
    problem(
        client.settle_conversion(&c.id).await,
        409,
        "is CANCELLED and cannot be settled",
    );
    let settled = client
        .create_conversion(&usd_to(&profile, "PYUSD", "5"))
        .await
        .unwrap();
    client.settle_conversion(&settled.id).await.unwrap();
    problem(
        client.cancel_conversion(&settled.id).await,
        409,
        "is SETTLED and cannot be cancelled",
    );
    problem(
        client.settle_conversion(&settled.id).await,
        409,
        "is SETTLED and cannot be settled",
    );
    problem(
        client
            .cancel_conversion(&uuid::Uuid::new_v4().to_string())
            .await,
        404,
        "not found for customer",
    );
    assert_eq!(available(&client, &profile, "USD").await, "45");
    assert_eq!(available(&client, &profile, "PYUSD").await, "5");
    db.assert_ledger_sound().await;
}

async fn manual_settlement(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "10").await;
    let c = client
        .create_conversion(&usd_to(&profile, "USDG", "10"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        client.conversion(&c.id).await.unwrap().status,
        "CREATED",
        "manual mode never settles by itself"
    );
    client.settle_conversion(&c.id).await.unwrap();
    assert_eq!(available(&client, &profile, "USDG").await, "10");
}

async fn filters_and_pages_lists(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let a = funded_profile(&client, "USD", "100").await;
    let b = funded_profile(&client, "USD", "100").await;
    let mut made = Vec::new();
    for i in 0..6 {
        let profile = if i % 2 == 0 { &a } else { &b };
        let c = client
            .create_conversion(&CreateConversion {
                ref_id: Some(format!("ref-{i}")),
                ..usd_to(profile, "USDP", "1")
            })
            .await
            .unwrap();
        made.push(c);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let all = client.list_conversions(&Default::default()).await.unwrap();
    let newest_first: Vec<String> = made.iter().rev().map(|c| c.id.clone()).collect();
    assert_eq!(
        all.items.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        newest_first,
        "DESC by default"
    );
    assert!(all.next_page_cursor.is_none());

    let asc = client
        .list_conversions(&ListConversions {
            order: Some("ASC".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(asc.items.first().unwrap().id, made[0].id);

    let only_a = client
        .list_conversions(&ListConversions {
            profile_id: Some(a.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(only_a.items.len(), 3);
    assert!(only_a.items.iter().all(|c| c.profile_id == a));

    let by_ref = client
        .list_conversions(&ListConversions {
            ref_id: Some("ref-4".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_ref.items.len(), 1);
    assert_eq!(by_ref.items[0].id, made[4].id);

    let window = ListConversions {
        created_at_begin: Some(made[1].created_at.clone()),
        created_at_end: Some(made[3].created_at.clone()),
        ..Default::default()
    };
    let middle = client.list_conversions(&window).await.unwrap();
    assert_eq!(middle.items.len(), 3, "begin and end are inclusive");

    client.settle_conversion(&made[2].id).await.unwrap();
    let settled = client.conversion(&made[2].id).await.unwrap();
    let updated = ListConversions {
        updated_at_begin: Some(settled.updated_at.clone()),
        ..Default::default()
    };
    let recent = client.list_conversions(&updated).await.unwrap();
    assert_eq!(
        recent
            .items
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
        vec![made[2].id.clone()]
    );
    let before = ListConversions {
        updated_at_end: Some(made[5].updated_at.clone()),
        ..Default::default()
    };
    assert_eq!(
        client.list_conversions(&before).await.unwrap().items.len(),
        5
    );

    let first = client
        .list_conversions(&ListConversions {
            limit: Some(4),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 4);
    let cursor = first.next_page_cursor.expect("more remain");
    let second = client
        .list_conversions(&ListConversions {
            limit: Some(4),
            page_cursor: Some(cursor),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(second.items.len(), 2);
    assert!(
        second.next_page_cursor.is_none(),
        "no cursor once nothing remains"
    );
    let exact = client
        .list_conversions(&ListConversions {
            limit: Some(6),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(exact.next_page_cursor.is_none());
}

async fn walks_every_conversion_once_while_new_ones_arrive(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "10000").await;
    let mut before = HashSet::new();
    for _ in 0..25 {
        before.insert(
            client
                .create_conversion(&usd_to(&profile, "USDP", "1"))
                .await
                .unwrap()
                .id,
        );
    }
    for order in ["DESC", "ASC"] {
        let writer = {
            let client = client.clone();
            let profile = profile.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    client
                        .create_conversion(&usd_to(&profile, "USDP", "1"))
                        .await
                        .unwrap();
                }
            })
        };
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let query = ListConversions {
                limit: Some(3),
                order: Some(order.into()),
                page_cursor: cursor.take(),
                ..Default::default()
            };
            let page = client.list_conversions(&query).await.unwrap();
            seen.extend(page.items.into_iter().map(|c| c.id));
            match page.next_page_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        writer.await.unwrap();
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{order}: a conversion was returned twice"
        );
        assert!(
            before.is_subset(&unique),
            "{order}: a conversion present at the start was skipped"
        );
        before = client
            .list_conversions(&ListConversions {
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.id)
            .collect();
    }
}

async fn never_overdraws_under_concurrency(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Two replicas on one database, both taking debits from one balance.
    let a = TestServer::start(&db).await;
    let b = TestServer::start(&db).await;
    let on_a = Arc::new(a.client().await);
    let on_b = Arc::new(
        judged(&b.url)
            .login(&a.client_id, &a.client_secret, None)
            .await
            .unwrap(),
    );
    let profile = funded_profile(&on_a, "USD", "100").await;
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let client = if i % 2 == 0 {
                on_a.clone()
            } else {
                on_b.clone()
            };
            let request = usd_to(&profile, "USDC", "10");
            tokio::spawn(async move { client.create_conversion(&request).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.problem().expect("problem").status, 403),
        }
    }
    assert_eq!(ok, 10, "exactly the balance's worth of conversions succeed");
    assert_eq!(available(&on_a, &profile, "USD").await, "0");
    eventually("all settled", || async {
        available(&on_a, &profile, "USDC").await == "100"
    })
    .await;
    db.assert_ledger_sound().await;
}

async fn settles_after_a_restart(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = TestServer::start_with(&db, |c| {
        c.settlement_delay = std::time::Duration::from_secs(1)
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "10").await;
    let c = client
        .create_conversion(&usd_to(&profile, "USDP", "10"))
        .await
        .unwrap();
    server.stop();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let back = TestServer::start_with(&db, |c| {
        c.settlement_delay = std::time::Duration::from_secs(1)
    })
    .await;
    let client = back.client().await;
    wait_settled(&client, &c.id).await;
    assert_eq!(available(&client, &profile, "USDP").await, "10");
    db.assert_ledger_sound().await;
}
