//! The Events API: every status change announced in the transaction that
//! made it, listed and read back as Paxos's Event objects.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;
use stableport_client::{
    Client, CreateConversion, CreateOrchestration, Event, ListEvents,
    OrchestrationDestination as To,
};

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    announces_every_status_change,
    lists_with_filters_and_pages,
    keeps_customers_apart_and_checks_input,
);

const ETH_ADDRESS: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

async fn all_events(client: &Client) -> Vec<Event> {
    let mut events = Vec::new();
    let mut query = ListEvents {
        limit: Some(100),
        ..Default::default()
    };
    loop {
        let page = client.events(&query).await.unwrap();
        events.extend(page.events);
        match page.next_page_cursor {
            Some(cursor) => query.page_cursor = Some(cursor),
            None => return events,
        }
    }
}

/// The one event of this type about this object.
fn find<'a>(events: &'a [Event], kind: &str, object_id: &str) -> &'a Event {
    let found: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == kind && e.object["id"] == object_id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{kind} for {object_id} in {:#?}",
        events.iter().map(|e| &e.kind).collect::<Vec<_>>()
    );
    found[0]
}

async fn put_crypto_address(client: &Client, network: &str, address: &str) -> String {
    let (status, _, body) = client
        .raw(
            Method::PUT,
            "/v2/transfer/crypto-destination-address",
            Some((
                "application/json",
                json!({ "crypto_network": network, "address": address })
                    .to_string()
                    .into_bytes(),
            )),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body["address"]["id"].as_str().unwrap().to_string()
}

async fn announces_every_status_change(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let profile = default_profile(&client).await;

    // Deposits are transfers: transfer.wire_deposit / crypto_deposit.completed.
    let usd_deposit = client.deposit(&profile, "USD", "1000").await.unwrap();
    let usdc_deposit = client.deposit(&profile, "USDC", "40").await.unwrap();

    // Conversions (ours): created, then settled or cancelled.
    let convert = |ref_id: &str, amount: &str| CreateConversion {
        profile_id: profile.clone(),
        amount: amount.into(),
        source_asset: "USD".into(),
        target_asset: "USDP".into(),
        ref_id: Some(ref_id.into()),
        ..Default::default()
    };
    let settled = client
        .create_conversion(&convert("conv-settle", "10"))
        .await
        .unwrap();
    client.settle_conversion(&settled.id).await.unwrap();
    let cancelled = client
        .create_conversion(&convert("conv-cancel", "5"))
        .await
        .unwrap();
    client.cancel_conversion(&cancelled.id).await.unwrap();

    // An orchestration that withdraws to a crypto address, and one that fails.
    let good = put_crypto_address(&client, "ETHEREUM", ETH_ADDRESS).await;
    let bad = put_crypto_address(
        &client,
        "SOLANA",
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
    )
    .await;
    client.sandbox_crypto_address(&bad, true).await.unwrap();
    let out = client
        .create_orchestration(&CreateOrchestration::new(
            "orch-out",
            &profile,
            "USD",
            "USDC",
            "20",
            To::crypto(&good),
        ))
        .await
        .unwrap();
    let doomed = client
        .create_orchestration(&CreateOrchestration::new(
            "orch-doomed",
            &profile,
            "USDC",
            "USDG",
            "15",
            To::crypto(&bad),
        ))
        .await
        .unwrap();
    client.release_orchestration(&out.id).await.unwrap();
    client.release_orchestration(&doomed.id).await.unwrap();
    eventually("both orchestrations to finish", || async {
        client.orchestration(&out.id).await.unwrap().status == "COMPLETED"
            && client.orchestration(&doomed.id).await.unwrap().status == "FAILED"
    })
    .await;

    let events = all_events(&client).await;

    let e = find(&events, "transfer.wire_deposit.completed", &usd_deposit);
    assert_eq!(e.object_type, "transfer_status_change");
    assert_eq!(
        e.object,
        json!({ "id": usd_deposit, "type": "WIRE_DEPOSIT", "status": "COMPLETED" })
    );
    let e = find(&events, "transfer.crypto_deposit.completed", &usdc_deposit);
    assert_eq!(e.object["type"], "CRYPTO_DEPOSIT");

    for (kind, id, status) in [
        ("conversion.created", &settled.id, "CREATED"),
        ("conversion.settled", &settled.id, "SETTLED"),
        ("conversion.created", &cancelled.id, "CREATED"),
        ("conversion.cancelled", &cancelled.id, "CANCELLED"),
    ] {
        let e = find(&events, kind, id);
        assert_eq!(e.object_type, "conversion_status_change");
        assert_eq!(e.object["status"], status);
        assert!(e.object["ref_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("conv-")));
    }

    for (kind, status) in [
        ("orchestration.processing", "PROCESSING"),
        ("orchestration.completed", "COMPLETED"),
    ] {
        let e = find(&events, kind, &out.id);
        assert_eq!(e.object_type, "orchestration_status_change");
        assert_eq!(
            e.object,
            json!({ "id": out.id, "ref_id": "orch-out", "status": status })
        );
    }
    let e = find(&events, "orchestration.failed", &doomed.id);
    assert_eq!(e.object["ref_id"], "orch-doomed");

    let withdrawal = &out.destination_transfer.transfer_id;
    let pending = find(&events, "transfer.crypto_withdrawal.pending", withdrawal);
    assert_eq!(pending.object["status"], "PENDING");
    assert_eq!(pending.object["crypto_network"], "ETHEREUM");
    let completed = find(&events, "transfer.crypto_withdrawal.completed", withdrawal);
    let transfer = client.transfer(withdrawal).await.unwrap();
    assert_eq!(
        completed.object["crypto_tx_hash"].as_str(),
        transfer.crypto_tx_hash.as_deref()
    );
    find(
        &events,
        "transfer.crypto_withdrawal.failed",
        &doomed.destination_transfer.transfer_id,
    );

    // Internal legs have no event type of their own; nothing else was announced.
    let kinds: HashSet<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds
            .iter()
            .all(|k| stableport_store::EVENT_TYPES.contains(k)),
        "{kinds:?}"
    );
    assert_eq!(events.len(), 2 + 4 + 3 + 3 + 2, "{kinds:?}");

    // Each reads back alone, identical; none is a test event.
    for e in &events {
        assert_eq!(&client.event(&e.id).await.unwrap(), e);
        assert!(!e.is_test);
        assert_eq!(e.undelivered_webhooks, 0);
        assert!(e.created_at.ends_with('Z'), "{}", e.created_at);
    }
    // Ascending by default, as the spec says.
    let times: Vec<&str> = events.iter().map(|e| e.created_at.as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    db.assert_ledger_sound().await;
}

async fn lists_with_filters_and_pages(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let c = client
            .create_conversion(&CreateConversion {
                profile_id: profile.clone(),
                amount: "1".into(),
                source_asset: "USD".into(),
                target_asset: "USDC".into(),
                ref_id: Some(format!("r{i}")),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(c.id);
    }
    eventually("every conversion settled", || async {
        client
            .events(&ListEvents {
                types: vec!["conversion.settled".into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .events
            .len()
            == 7
    })
    .await;
    let all = all_events(&client).await;
    assert_eq!(
        all.len(),
        1 + 7 + 7,
        "one deposit, seven created, seven settled"
    );

    // Pages of 2 walk every event exactly once, in order, either way.
    for order in ["ASC", "DESC"] {
        let mut seen = Vec::new();
        let mut query = ListEvents {
            limit: Some(2),
            order: Some(order.into()),
            ..Default::default()
        };
        loop {
            let page = client.events(&query).await.unwrap();
            assert!(page.events.len() <= 2);
            seen.extend(page.events.into_iter().map(|e| e.id));
            match page.next_page_cursor {
                Some(c) => query.page_cursor = Some(c),
                None => break,
            }
        }
        let mut expected: Vec<String> = all.iter().map(|e| e.id.clone()).collect();
        if order == "DESC" {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{order}");
    }

    // By type, one or several.
    let created = client
        .events(&ListEvents {
            types: vec!["conversion.created".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert_eq!(
        created
            .iter()
            .map(|e| e.object["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        ids
    );
    let two = client
        .events(&ListEvents {
            types: vec![
                "conversion.created".into(),
                "transfer.wire_deposit.completed".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert_eq!(two.len(), 8);

    // By created_at.
    let pivot = &all[5].created_at;
    let after = client
        .events(&ListEvents {
            created_at_gt: Some(pivot.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert!(after.iter().all(|e| e.created_at > *pivot));
    let upto = client
        .events(&ListEvents {
            created_at_lte: Some(pivot.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert!(upto.iter().all(|e| e.created_at <= *pivot));
    assert_eq!(after.len() + upto.len(), all.len());
    let exact = client
        .events(&ListEvents {
            created_at_eq: Some(all[0].created_at.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert!(exact.iter().any(|e| e.id == all[0].id));

    // No test events unless asked for.
    let tests = client
        .events(&ListEvents {
            is_test: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert!(tests.is_empty());
}

async fn keeps_customers_apart_and_checks_input(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    client.deposit(&profile, "USD", "5").await.unwrap();
    let mine = all_events(&client).await;
    assert_eq!(mine.len(), 1);

    let other = other_customer(&server, &db).await;
    assert!(all_events(&other).await.is_empty());
    problem(other.event(&mine[0].id).await, 404, "not found");

    let get = |path: String| {
        let client = client.clone();
        async move { client.raw(Method::GET, &path, None).await.unwrap() }
    };
    raw_problem(
        get("/v2/events/nope".into()).await,
        400,
        "id must be a UUID",
    );
    raw_problem(
        get(format!("/v2/events/{}", uuid::Uuid::new_v4())).await,
        404,
        "not found",
    );
    raw_problem(
        get(format!("/v2/events/{}?is_test=true", mine[0].id)).await,
        404,
        "not a test event",
    );
    raw_problem(get("/v2/events?limit=0".into()).await, 400, "limit");
    raw_problem(get("/v2/events?limit=101".into()).await, 400, "1 to 100");
    raw_problem(
        get("/v2/events?type=identity.teleported".into()).await,
        400,
        "unknown event type",
    );
    raw_problem(get("/v2/events?order=UP".into()).await, 400, "order");
    raw_problem(get("/v2/events?is_test=maybe".into()).await, 400, "is_test");
    raw_problem(
        get("/v2/events?created_at.gt=yesterday".into()).await,
        400,
        "created_at.gt",
    );
    raw_problem(
        get("/v2/events?page_cursor=forged".into()).await,
        400,
        "page_cursor",
    );

    let narrow = server
        .anonymous()
        .login(
            &server.client_id,
            &server.client_secret,
            Some("funding:read_profile"),
        )
        .await
        .unwrap();
    let denied = problem(
        narrow.events(&ListEvents::default()).await,
        403,
        "events:read_event",
    );
    assert!(denied.detail.contains("insufficient scopes"));
}
