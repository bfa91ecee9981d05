//! The store's primitives, without HTTP, on SQLite and on PostgreSQL: what
//! the operations layer relies on from every backend. PostgreSQL must be
//! reachable (STABLEPORT_TEST_POSTGRES_URL); these tests fail rather than skip.

use std::sync::Arc;

use stableport_domain::conversion::ConversionStatus;
use stableport_domain::{ledger, Amount, Asset};
use stableport_store::scratch::ScratchDb;
use stableport_store::{
    Credential, CredentialStore, HistoryStore, NewConversion, SqlStore, StartUp, Store,
};
use uuid::Uuid;

/// A fresh database of one backend; the SQLite file, or the PostgreSQL
/// database, lives as long as this.
struct Scratch {
    store: Arc<SqlStore>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<ScratchDb>,
}

async fn sqlite() -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = Arc::new(stableport_store::open(&url).await.unwrap());
    Scratch {
        store,
        _dir: Some(dir),
        _db: None,
    }
}

async fn postgres() -> Scratch {
    let db = ScratchDb::create("sptest_store").await;
    let store = Arc::new(stableport_store::open(&db.url).await.unwrap());
    Scratch {
        store,
        _dir: None,
        _db: Some(db),
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::sqlite().await).await })*
        }
        mod postgres_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::postgres().await).await })*
        }
    };
}

on_both_backends!(
    lookups_filter_on_the_customer,
    nothing_is_written_without_commit,
    racing_debits_never_overdraw,
    status_moves_are_guarded,
    history_is_the_customers_own,
    reads_at_once_each_get_their_own,
    starts_together_agree_on_one_customer,
);

const NOW: i64 = 1_700_000_000_000_000;

fn units(text: &str, asset: Asset) -> i64 {
    Amount::parse(text, asset.decimals()).unwrap().units(asset)
}

async fn available(store: &SqlStore, profile: Uuid, asset: Asset) -> i64 {
    let balances = store.balances(profile).await.unwrap();
    balances
        .iter()
        .find(|b| b.asset == asset)
        .map_or(0, |b| b.available)
}

/// A customer whose default profile holds `dollars`, credited and committed.
async fn customer_with_dollars(store: &SqlStore, dollars: &str) -> (Uuid, Uuid) {
    let customer = Uuid::new_v4();
    let profile = store.create_customer(customer, NOW).await.unwrap();
    let mut tx = store.transaction().await.unwrap();
    let postings = ledger::deposit(profile, Asset::Usd, units(dollars, Asset::Usd));
    tx.apply(&postings).await.unwrap().unwrap();
    tx.entry(customer, "test.deposit", profile, postings, NOW);
    tx.commit().await.unwrap();
    (customer, profile)
}

fn conversion(customer: Uuid, profile: Uuid, ref_id: &str) -> NewConversion {
    NewConversion {
        id: Uuid::now_v7(),
        customer_id: customer,
        profile_id: profile,
        recipient_profile_id: None,
        amount: "1".into(),
        source_asset: Asset::Usd,
        target_asset: Asset::Usdc,
        source_units: units("1", Asset::Usd),
        target_units: units("1", Asset::Usdc),
        ref_id: Some(ref_id.into()),
        identity_id: Uuid::nil().to_string(),
        account_id: Uuid::nil().to_string(),
        metadata: None,
        now: NOW,
        settle_after: Some(NOW),
    }
}

/// Another customer's profile and conversion are not found, in a
/// transaction or out of one.
async fn lookups_filter_on_the_customer(db: Scratch) {
    let store = &db.store;
    let (alice, alice_profile) = customer_with_dollars(store, "10").await;
    let (bob, bob_profile) = customer_with_dollars(store, "10").await;
    assert!(store.profile(bob, alice_profile).await.unwrap().is_none());
    assert_eq!(
        store.default_profile(bob).await.unwrap().unwrap().id,
        bob_profile
    );
    let new = conversion(alice, alice_profile, "mine");
    let mut tx = store.transaction().await.unwrap();
    tx.insert_conversions(&[&new]).await.unwrap();
    assert!(tx.conversion(bob, new.id).await.unwrap().is_none());
    assert!(tx.conversion_by_ref(bob, "mine").await.unwrap().is_none());
    tx.commit().await.unwrap();
    assert!(store.conversion(bob, new.id).await.unwrap().is_none());
    assert!(store.conversion(alice, new.id).await.unwrap().is_some());
    // A customer's balances in one query: its own profiles only.
    let held = store.customer_balances(bob).await.unwrap();
    let profiles: Vec<Uuid> = held.iter().map(|(p, _)| *p).collect();
    assert_eq!(profiles, [bob_profile]);
    assert_eq!(held[0].1.available, units("10", Asset::Usd));
}

/// Reads by id made at once (on PostgreSQL, answered many to one query)
/// each get their own record: none for another customer's id, none for a
/// deactivated profile, a repeat of the same id answered twice.
async fn reads_at_once_each_get_their_own(db: Scratch) {
    let store = &db.store;
    let mut owned = Vec::new();
    for i in 0..8 {
        let (customer, profile) = customer_with_dollars(store, &format!("{}", 10 + i)).await;
        let new = conversion(customer, profile, "r");
        let mut tx = store.transaction().await.unwrap();
        tx.insert_conversions(&[&new]).await.unwrap();
        tx.commit().await.unwrap();
        owned.push((
            customer,
            profile,
            new.id,
            units(&format!("{}", 10 + i), Asset::Usd),
        ));
    }
    let (gone_customer, gone) = customer_with_dollars(store, "1").await;
    let mut tx = store.transaction().await.unwrap();
    assert!(tx.deactivate_profile(gone, NOW).await.unwrap());
    tx.commit().await.unwrap();
    let reads = (0..400).map(|n| {
        let store = store.clone();
        let (customer, profile, id, dollars) = owned[n % owned.len()];
        let (other, ..) = owned[(n + 1) % owned.len()];
        tokio::spawn(async move {
            let (mine, theirs) =
                tokio::join!(store.conversion(customer, id), store.conversion(other, id));
            assert_eq!(mine.unwrap().unwrap().customer_id, customer);
            assert!(theirs.unwrap().is_none(), "another customer's conversion");
            let balances = store.active_profile_balances(customer, profile).await;
            let held: Vec<_> = (balances.unwrap().unwrap().iter())
                .filter(|b| b.available != 0)
                .map(|b| (b.asset, b.available))
                .collect();
            assert_eq!(held, [(Asset::Usd, dollars)]);
            let not_theirs = store.active_profile_balances(other, profile).await;
            assert!(not_theirs.unwrap().is_none(), "another customer's profile");
        })
    });
    for read in reads.collect::<Vec<_>>() {
        read.await.unwrap();
    }
    let deactivated = store.active_profile_balances(gone_customer, gone).await;
    assert!(deactivated.unwrap().is_none());
}

/// A transaction dropped without commit leaves no trace.
async fn nothing_is_written_without_commit(db: Scratch) {
    let store = &db.store;
    let (customer, profile) = customer_with_dollars(store, "10").await;
    {
        let mut tx = store.transaction().await.unwrap();
        let debits = [(profile, Asset::Usd, units("4", Asset::Usd))];
        assert_eq!(tx.debit_each(&debits).await.unwrap(), vec![Ok(())]);
        let new = conversion(customer, profile, "dropped");
        tx.insert_conversions(&[&new]).await.unwrap();
    }
    assert_eq!(
        available(store, profile, Asset::Usd).await,
        units("10", Asset::Usd)
    );
    let mut tx = store.transaction().await.unwrap();
    assert!(tx
        .conversion_by_ref(customer, "dropped")
        .await
        .unwrap()
        .is_none());
}

/// Twenty transactions race to debit 10 dollars each of 100: exactly ten
/// succeed, the others are told what they found, and the balance ends at 0.
async fn racing_debits_never_overdraw(db: Scratch) {
    let store = db.store.clone();
    let (_, profile) = customer_with_dollars(&store, "100").await;
    let racers: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                loop {
                    let debit = [(profile, Asset::Usd, units("10", Asset::Usd))];
                    let attempt = async {
                        let mut tx = store.transaction().await?;
                        let result = tx.debit_each(&debit).await?.remove(0);
                        tx.commit().await?;
                        Ok::<_, stableport_store::StoreError>(result)
                    };
                    match attempt.await {
                        Err(e) if e.is_transient() => continue,
                        other => return other.unwrap(),
                    }
                }
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(()) => won += 1,
            Err(found) => assert!(found < units("10", Asset::Usd), "found {found}"),
        }
    }
    assert_eq!(won, 10);
    assert_eq!(available(&store, profile, Asset::Usd).await, 0);
}

/// A repeated ref_id is not inserted; a status moves from CREATED once.
async fn status_moves_are_guarded(db: Scratch) {
    let store = &db.store;
    let (customer, profile) = customer_with_dollars(store, "10").await;
    let first = conversion(customer, profile, "once");
    let repeat = conversion(customer, profile, "once");
    let mut tx = store.transaction().await.unwrap();
    let inserted = tx.insert_conversions(&[&first, &repeat]).await.unwrap();
    assert_eq!(inserted.into_iter().collect::<Vec<_>>(), vec![first.id]);
    assert_eq!(tx.claim_due_conversions(NOW, 10).await.unwrap().len(), 1);
    let ids = [first.id];
    let moved = tx.move_conversions(&ids, ConversionStatus::Cancelled, NOW + 1);
    assert!(moved.await.unwrap().contains(&first.id));
    let again = tx.move_conversions(&ids, ConversionStatus::Settled, NOW + 2);
    assert!(again.await.unwrap().is_empty());
    tx.commit().await.unwrap();
    let stored = store.conversion(customer, first.id).await.unwrap().unwrap();
    assert_eq!(stored.status, ConversionStatus::Cancelled);
    assert_eq!(stored.cancelled_at, Some(NOW + 1));
    assert!(!store.conversions_due(NOW + 10).await.unwrap());
}

/// A trail shows the customer's own entries, postings and events of the
/// objects asked for; volume sums per day; a sample taken twice at the same
/// time (two replicas) is written once.
async fn history_is_the_customers_own(db: Scratch) {
    let store = &db.store;
    let (alice, alice_profile) = customer_with_dollars(store, "10").await;
    let (bob, _) = customer_with_dollars(store, "7").await;
    let new = conversion(alice, alice_profile, "traced");
    let mut tx = store.transaction().await.unwrap();
    tx.insert_conversions(&[&new]).await.unwrap();
    let postings = ledger::deposit(alice_profile, Asset::Usd, units("2", Asset::Usd));
    tx.apply(&postings).await.unwrap().unwrap();
    tx.entry(alice, "test.traced", new.id, postings, NOW + 1);
    tx.event(alice, "conversion.created", new.id, "{}".into(), NOW + 1);
    tx.commit().await.unwrap();

    let trail = store.trail(alice, &[new.id]).await.unwrap();
    assert_eq!(trail.entries.len(), 1);
    let entry = &trail.entries[0];
    assert_eq!(
        (entry.kind.as_str(), entry.reference_id),
        ("test.traced", new.id)
    );
    let sum: i64 = entry.postings.iter().map(|p| p.units).sum();
    assert_eq!((entry.postings.len(), sum), (2, 0));
    assert!(entry
        .postings
        .iter()
        .any(|p| p.account == format!("profile:{alice_profile}")));
    assert_eq!(trail.events.len(), 1);
    assert_eq!(trail.events[0].kind, "conversion.created");
    let theirs = store.trail(bob, &[new.id]).await.unwrap();
    assert!(theirs.entries.is_empty() && theirs.events.is_empty());

    // The first sample holds everything before it; the second only what
    // came between. Taking one twice (a second replica) writes nothing.
    assert_eq!(store.latest_sample().await.unwrap(), None);
    assert!(store.take_sample(NOW + 10).await.unwrap());
    assert!(!store.take_sample(NOW + 10).await.unwrap());
    assert_eq!(store.latest_sample().await.unwrap(), Some(NOW + 10));
    let later = NewConversion {
        now: NOW + 20,
        ..conversion(alice, alice_profile, "later")
    };
    let mut tx = store.transaction().await.unwrap();
    tx.insert_conversions(&[&later]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.take_sample(NOW + 30).await.unwrap());
    let day = NOW / stableport_store::DAY * stableport_store::DAY;
    let volume = store.daily_volume(alice, 0).await.unwrap();
    assert_eq!(volume, [(day, Asset::Usd, units("2", Asset::Usd))]);
    assert!(store.daily_volume(bob, 0).await.unwrap().is_empty());
    let twelve = units("12", Asset::Usd);
    let history = store.balance_history(alice, 0, 1).await.unwrap();
    assert_eq!(
        history,
        [
            (NOW + 10, Asset::Usd, twelve),
            (NOW + 30, Asset::Usd, twelve)
        ]
    );
    // Thinned to one sample per 1,000 µs: the newest of the two.
    let thinned = store.balance_history(alice, 0, 1_000).await.unwrap();
    assert_eq!(thinned, [(NOW + 30, Asset::Usd, twelve)]);
    let seven = units("7", Asset::Usd);
    let theirs = store.balance_history(bob, 0, 1).await.unwrap();
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|(_, _, held)| *held == seven));
}

/// Four starts at once on an empty database (replicas started together):
/// one first customer and one signing key for all, and each start's
/// credential stored for that customer.
async fn starts_together_agree_on_one_customer(db: Scratch) {
    let starts: Vec<_> = (0..4)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let make = move |customer| Credential {
                    client_id: format!("start-{i}"),
                    customer_id: customer,
                    secret_salt: "salt".into(),
                    secret_hash: "hash".into(),
                    scopes: "funding:read_profile".into(),
                    created_at: NOW,
                    updated_at: NOW,
                    disabled: false,
                    user_id: None,
                };
                let start = StartUp {
                    key_candidate: &format!("key-{i}"),
                    customer_candidate: Uuid::new_v4(),
                    now: NOW + i,
                    credential: Some(&make),
                };
                store.start_up(start).await.unwrap()
            })
        })
        .collect();
    let mut started = Vec::new();
    for start in starts {
        started.push(start.await.unwrap());
    }
    let first = &started[0];
    assert!(started.iter().all(|s| s.customer_id == first.customer_id));
    assert!(started.iter().all(|s| s.signing_key == first.signing_key));
    assert!(first.signing_key.starts_with("key-"));
    assert_eq!(started.iter().filter(|s| s.created_customer).count(), 1);
    assert!(db
        .store
        .default_profile(first.customer_id)
        .await
        .unwrap()
        .is_some());
    for i in 0..4 {
        let stored = db.store.credential(&format!("start-{i}")).await.unwrap();
        assert_eq!(stored.map(|c| c.customer_id), Some(first.customer_id));
    }
}
