//! Profiles, balances and sandbox deposits.

use stableport_client::Client;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    first_start_has_a_default_profile,
    manages_profiles,
    lists_profiles_with_filters_and_pages,
    shows_balances,
    deposits_credit_profiles,
    deposits_together_refuse_only_what_passes_the_maximum,
    isolates_customers
);

async fn first_start_has_a_default_profile(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let (status, _, _) = server
        .anonymous()
        .raw(reqwest::Method::GET, "/health", None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let client = server.client().await;
    let profiles = client.profiles().await.unwrap().items;
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].kind, "DEFAULT");
    assert_eq!(client.profile("default").await.unwrap(), profiles[0]);
    // A restart keeps the customer and its profile.
    drop(server);
    let again = TestServer::start(&db).await;
    assert_eq!(
        again.client().await.profiles().await.unwrap().items,
        profiles
    );
}

async fn manages_profiles(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let created = client
        .create_profile("Treasury", Some("main treasury"))
        .await
        .unwrap();
    assert_eq!(created.kind, "NORMAL");
    assert_eq!(created.description.as_deref(), Some("main treasury"));
    assert_eq!(client.profile(&created.id).await.unwrap(), created);

    let renamed = client
        .update_profile(&created.id, "Operations")
        .await
        .unwrap();
    assert_eq!(renamed.nickname, "Operations");
    assert_eq!(
        client.profile(&created.id).await.unwrap().nickname,
        "Operations"
    );

    problem(
        client.create_profile("Operations", None).await,
        409,
        "already exists",
    );
    client.create_profile("Other", None).await.unwrap();
    problem(
        client.update_profile(&created.id, "Other").await,
        409,
        "already exists",
    );
    problem(client.create_profile("   ", None).await, 400, "nickname");
    problem(
        client.profile(&uuid::Uuid::new_v4().to_string()).await,
        404,
        "not found for customer",
    );
}

async fn lists_profiles_with_filters_and_pages(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            client
                .create_profile(&format!("Desk {i}"), None)
                .await
                .unwrap()
                .id,
        );
    }
    // Ascending by default, default profile first.
    let all = client.profiles().await.unwrap();
    assert_eq!(all.items.len(), 6);
    assert_eq!(
        all.items[1..]
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    assert!(all.next_page_cursor.is_none());

    let desks = client
        .list_profiles(&[("nickname", "desk".into())])
        .await
        .unwrap();
    assert_eq!(
        desks.items.len(),
        5,
        "nickname is a case-insensitive prefix"
    );
    let two = client
        .list_profiles(&[("ids", ids[0].clone()), ("ids", ids[3].clone())])
        .await
        .unwrap();
    assert_eq!(
        two.items.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![ids[0].clone(), ids[3].clone()]
    );

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let mut query = vec![("limit", "2".to_string()), ("order", "DESC".to_string())];
        if let Some(c) = cursor.take() {
            query.push(("page_cursor", c));
        }
        let page = client.list_profiles(&query).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|p| p.id));
        match page.next_page_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected: Vec<String> = all.items.iter().map(|p| p.id.clone()).collect();
    expected.reverse();
    assert_eq!(seen, expected);
}

async fn shows_balances(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let all = balances(&client, &profile).await;
    let assets: Vec<&str> = all.iter().map(|b| b.asset.as_str()).collect();
    assert_eq!(assets, ["USD", "USDP", "PYUSD", "USDG", "USDC"]);
    assert!(all.iter().all(|b| b.available == "0" && b.trading == "0"));

    client
        .deposit(&profile, "USDP", "12.34567891")
        .await
        .unwrap();
    let filtered = client
        .balances(&profile, &["USDP", "USD"])
        .await
        .unwrap()
        .items;
    assert_eq!(
        filtered
            .iter()
            .map(|b| b.asset.as_str())
            .collect::<Vec<_>>(),
        ["USD", "USDP"]
    );
    assert_eq!(filtered[1].available, "12.34567891");
    let comma = client.list_profiles(&[]).await.unwrap();
    assert!(!comma.items.is_empty());
    let one = client.balance(&profile, "USDP").await.unwrap();
    assert_eq!(
        (
            one.asset.as_str(),
            one.available.as_str(),
            one.trading.as_str()
        ),
        ("USDP", "12.34567891", "0")
    );
    problem(
        client.balance(&profile, "BTC").await,
        400,
        "unsupported asset",
    );
    problem(
        client.balances(&profile, &["USD", "DOGE"]).await,
        400,
        "DOGE",
    );
}

async fn deposits_credit_profiles(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let activity = client.deposit(&profile, "USD", "1000").await.unwrap();
    assert!(uuid::Uuid::parse_str(&activity).is_ok());
    client.deposit("default", "USD", "0.5").await.unwrap();
    client.deposit(&profile, "PYUSD", "2.000001").await.unwrap();
    assert_eq!(available(&client, &profile, "USD").await, "1000.5");
    assert_eq!(available(&client, &profile, "PYUSD").await, "2.000001");
    problem(
        client.deposit(&profile, "USD", "0.001").await,
        400,
        "more than 2 decimal places",
    );
    problem(
        client.deposit(&profile, "PYUSD", "0.0000001").await,
        400,
        "more than 6 decimal places",
    );
    assert_eq!(available(&client, &profile, "USD").await, "1000.5");
    db.assert_ledger_sound().await;
}

async fn isolates_customers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let mine = server.client().await;
    let theirs: Client = other_customer(&server, &db).await;
    let my_profile = funded_profile(&mine, "USD", "50").await;
    let their_profile = default_profile(&theirs).await;
    assert_ne!(my_profile, their_profile);

    assert_eq!(
        theirs.profiles().await.unwrap().items.len(),
        1,
        "sees only its own profiles"
    );
    problem(
        theirs.profile(&my_profile).await,
        404,
        "not found for customer",
    );
    problem(
        theirs.balances(&my_profile, &[]).await,
        404,
        "not found for customer",
    );
    problem(
        theirs.deposit(&my_profile, "USD", "1").await,
        404,
        "not found for customer",
    );
    problem(
        theirs.update_profile(&my_profile, "stolen").await,
        404,
        "not found for customer",
    );
    let request = stableport_client::CreateConversion {
        profile_id: my_profile.clone(),
        amount: "1".into(),
        source_asset: "USD".into(),
        target_asset: "USDC".into(),
        ..Default::default()
    };
    problem(
        theirs.create_conversion(&request).await,
        404,
        "not found for customer",
    );
    let conversion = mine.create_conversion(&request).await.unwrap();
    problem(
        theirs.conversion(&conversion.id).await,
        404,
        "not found for customer",
    );
    problem(
        theirs.cancel_conversion(&conversion.id).await,
        404,
        "not found for customer",
    );
    assert!(theirs
        .list_conversions(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    // Directed settlement to another customer's profile is refused too.
    let directed = stableport_client::CreateConversion {
        recipient_profile_id: Some(their_profile.clone()),
        ..request.clone()
    };
    problem(
        mine.create_conversion(&directed).await,
        404,
        "not found for customer",
    );
    assert_eq!(available(&mine, &my_profile, "USD").await, "49");
}

/// Deposits made at once are committed together, their credits summed; when
/// the sum would pass the balance's maximum, they go one by one: those that
/// fit are credited, the one that does not is refused with a 400.
async fn deposits_together_refuse_only_what_passes_the_maximum(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    // USDP's maximum is 40,000,000,000: 40 deposits leave room for 10.
    let full = funded_profile(&client, "USDP", "999999990").await;
    for _ in 0..39 {
        client.deposit(&full, "USDP", "1000000000").await.unwrap();
    }
    let other = funded_profile(&client, "USDP", "1").await;
    let deposit = |profile: String| {
        let client = client.clone();
        async move { client.deposit(&profile, "USDP", "4").await }
    };
    let (a, b, c, d) = tokio::join!(
        deposit(full.clone()),
        deposit(full.clone()),
        deposit(full.clone()),
        deposit(other.clone()),
    );
    let made = [a, b, c, d];
    let (credited, refused): (Vec<_>, Vec<_>) = made[..3].iter().partition(|r| r.is_ok());
    assert_eq!((credited.len(), refused.len()), (2, 1), "{made:?}");
    let Err(e) = refused[0] else { unreachable!() };
    let problem = e.problem().expect("a problem");
    assert_eq!(problem.status, 400, "{problem:?}");
    assert!(problem.detail.contains("exceed the maximum"), "{problem:?}");
    assert!(made[3].is_ok(), "{made:?}");
    assert_eq!(available(&client, &full, "USDP").await, "39999999998");
    assert_eq!(available(&client, &other, "USDP").await, "5");
}
