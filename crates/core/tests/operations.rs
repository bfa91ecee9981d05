//! The operations layer's contract, without HTTP, on SQLite and on
//! PostgreSQL: what it guarantees on every backend (isolation, exact debits,
//! ref_id repeats, guarded moves, racing writers). PostgreSQL must be
//! reachable (STABLEPORT_TEST_POSTGRES_URL); these tests fail rather than skip.

use std::sync::Arc;

use stableport_core::conversions::{create_batch, finish};
use stableport_core::deposits::to_profile;
use stableport_core::fees::Fees;
use stableport_core::profile_transfers::{self, Between, Move};
use stableport_core::profiles::ProfileRef;
use stableport_core::withdrawals::{crypto, decide, CryptoWithdraw, Decision, Requester, Size};
use stableport_core::{Core, CoreError, Created, Settlement};
use stableport_domain::conversion::ConversionStatus;
use stableport_domain::network::CryptoNetwork;
use stableport_domain::TransferStatus;
use stableport_domain::{Amount, Asset};
use stableport_store::scratch::ScratchDb;
use stableport_store::{CreateOutcome, NewConversion, Profile, ProfileKind, SqlStore, Store};
use uuid::Uuid;

/// A fresh database of one backend; the SQLite file, or the PostgreSQL
/// database, lives as long as this.
struct Scratch {
    store: Arc<SqlStore>,
    core: Core,
    _dir: Option<tempfile::TempDir>,
    _db: Option<ScratchDb>,
}

async fn sqlite() -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = Arc::new(stableport_store::open(&url).await.unwrap());
    Scratch {
        core: core(&store),
        store,
        _dir: Some(dir),
        _db: None,
    }
}

async fn postgres() -> Scratch {
    let db = ScratchDb::create("sptest_core").await;
    let store = Arc::new(stableport_store::open(&db.url).await.unwrap());
    Scratch {
        core: core(&store),
        store,
        _dir: None,
        _db: Some(db),
    }
}

fn core(store: &Arc<SqlStore>) -> Core {
    Core::start(store.clone(), Settlement::Manual).0
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
    customers_see_only_their_own,
    conversions_debit_exactly_once,
    settle_and_cancel_are_guarded,
    concurrent_debits_never_overdraw,
    withdrawals_and_transfers_keep_the_books,
    opposite_transfers_neither_deadlock_nor_overdraw,
    sign_in_locks_after_failures_and_sessions_end,
);

const NOW: i64 = 1_700_000_000_000_000;

fn units(text: &str, asset: Asset) -> i64 {
    Amount::parse(text, asset.decimals()).unwrap().units(asset)
}

async fn customer_with_dollars(db: &Scratch, dollars: &str) -> (Uuid, Uuid) {
    let customer = Uuid::new_v4();
    let profile = db.store.create_customer(customer, NOW).await.unwrap();
    let amount = Amount::parse(dollars, 2).unwrap();
    let to = ProfileRef::Id(profile);
    to_profile(&db.core, customer, to, None, (Asset::Usd, amount), NOW)
        .await
        .unwrap();
    (customer, profile)
}

fn usd_to_usdc(customer: Uuid, profile: Uuid, dollars: &str, ref_id: &str) -> NewConversion {
    NewConversion {
        id: Uuid::now_v7(),
        customer_id: customer,
        profile_id: profile,
        recipient_profile_id: None,
        amount: dollars.to_string(),
        source_asset: Asset::Usd,
        target_asset: Asset::Usdc,
        source_units: units(dollars, Asset::Usd),
        target_units: units(dollars, Asset::Usdc),
        ref_id: Some(ref_id.to_string()),
        identity_id: Uuid::nil().to_string(),
        account_id: Uuid::nil().to_string(),
        metadata: None,
        now: NOW,
        settle_after: None,
    }
}

async fn available(store: &SqlStore, profile: Uuid, asset: Asset) -> i64 {
    let balances = store.balances(profile).await.unwrap();
    balances
        .iter()
        .find(|b| b.asset == asset)
        .map_or(0, |b| b.available)
}

async fn assert_sound(store: &SqlStore) {
    let report = store.audit().await.unwrap();
    assert!(
        report.discrepancies.is_empty(),
        "{:?}",
        report.discrepancies
    );
}

/// Every lookup filters on the customer: another customer's profile and
/// conversion are not found, and lists hold only one's own.
async fn customers_see_only_their_own(db: Scratch) {
    let store = &db.store;
    let (alice, alice_profile) = customer_with_dollars(&db, "100").await;
    let (bob, bob_profile) = customer_with_dollars(&db, "100").await;
    let extra = Profile {
        id: Uuid::now_v7(),
        customer_id: alice,
        nickname: "second".into(),
        description: None,
        kind: ProfileKind::Normal,
        created_at: NOW,
        updated_at: NOW,
        deactivated: false,
        account_id: None,
    };
    store.create_profile(&extra).await.unwrap();
    assert!(store.profile(alice, extra.id).await.unwrap().is_some());
    assert!(store.profile(bob, extra.id).await.unwrap().is_none());
    assert!(store.profile(bob, alice_profile).await.unwrap().is_none());
    assert_eq!(
        store.default_profile(bob).await.unwrap().unwrap().id,
        bob_profile
    );

    let batch = [usd_to_usdc(alice, alice_profile, "10", "a-1")];
    let [CreateOutcome::Created(conversion)] =
        &create_batch(store.as_ref(), &batch).await.unwrap()[..]
    else {
        panic!("created")
    };
    assert!(store
        .conversion(bob, conversion.id)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        finish(
            &db.core,
            bob,
            conversion.id,
            ConversionStatus::Cancelled,
            NOW
        )
        .await,
        Err(CoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .conversion(alice, conversion.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ConversionStatus::Created
    );
}

/// One batch: a debit the balance covers, one it does not (told what is
/// available), and a repeat of the first ref_id (given the stored one, not
/// debited again).
async fn conversions_debit_exactly_once(db: Scratch) {
    let store = &db.store;
    let (customer, profile) = customer_with_dollars(&db, "100").await;
    let first = usd_to_usdc(customer, profile, "60", "ref-1");
    let batch = [
        first.clone(),
        usd_to_usdc(customer, profile, "60", "ref-2"),
        NewConversion {
            id: Uuid::now_v7(),
            ..first.clone()
        },
    ];
    let outcomes = create_batch(store.as_ref(), &batch).await.unwrap();
    let CreateOutcome::Created(created) = &outcomes[0] else {
        panic!("first: {:?}", outcomes[0])
    };
    assert_eq!(created.id, first.id);
    assert!(
        matches!(outcomes[1], CreateOutcome::InsufficientFunds { available } if available == units("40", Asset::Usd)),
        "{:?}",
        outcomes[1]
    );
    let CreateOutcome::RefIdExists(existing) = &outcomes[2] else {
        panic!("repeat: {:?}", outcomes[2])
    };
    assert_eq!(existing.id, first.id);
    // Repeated in a later batch too, with the balance now too low.
    let again = create_batch(store.as_ref(), std::slice::from_ref(&first))
        .await
        .unwrap();
    assert!(matches!(&again[0], CreateOutcome::RefIdExists(c) if c.id == first.id));
    assert_eq!(
        available(store, profile, Asset::Usd).await,
        units("40", Asset::Usd)
    );
    assert_sound(store).await;
}

/// CREATED moves once: cancelled gives the debit back and cannot be settled;
/// settled credits the target and cannot be cancelled.
async fn settle_and_cancel_are_guarded(db: Scratch) {
    let store = &db.store;
    let (customer, profile) = customer_with_dollars(&db, "100").await;
    let batch = [
        usd_to_usdc(customer, profile, "30", "c-1"),
        usd_to_usdc(customer, profile, "20", "c-2"),
    ];
    create_batch(store.as_ref(), &batch).await.unwrap();
    let core = &db.core;
    let cancelled = finish(
        core,
        customer,
        batch[0].id,
        ConversionStatus::Cancelled,
        NOW + 1,
    )
    .await
    .unwrap();
    assert_eq!(cancelled.status, ConversionStatus::Cancelled);
    assert!(matches!(
        finish(
            core,
            customer,
            batch[0].id,
            ConversionStatus::Settled,
            NOW + 2
        )
        .await,
        Err(CoreError::Conflict(_))
    ));
    let settled = finish(
        core,
        customer,
        batch[1].id,
        ConversionStatus::Settled,
        NOW + 2,
    )
    .await
    .unwrap();
    assert_eq!(settled.status, ConversionStatus::Settled);
    assert!(matches!(
        finish(
            core,
            customer,
            batch[1].id,
            ConversionStatus::Cancelled,
            NOW + 3
        )
        .await,
        Err(CoreError::Conflict(_))
    ));
    assert_eq!(
        available(store, profile, Asset::Usd).await,
        units("80", Asset::Usd)
    );
    assert_eq!(
        available(store, profile, Asset::Usdc).await,
        units("20", Asset::Usdc)
    );
    assert_sound(store).await;
}

/// Twenty writers race to spend 10 dollars each of 100: exactly ten win, the
/// balance ends at zero, never below, and the ledger balances.
async fn concurrent_debits_never_overdraw(db: Scratch) {
    let store = db.store.clone();
    let (customer, profile) = customer_with_dollars(&db, "100").await;
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let batch = [usd_to_usdc(customer, profile, "10", &format!("race-{i}"))];
                create_batch(store.as_ref(), &batch)
                    .await
                    .unwrap()
                    .remove(0)
            })
        })
        .collect();
    let mut created = 0;
    for racer in racers {
        match racer.await.unwrap() {
            CreateOutcome::Created(_) => created += 1,
            CreateOutcome::InsufficientFunds { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created, 10);
    assert_eq!(available(&store, profile, Asset::Usd).await, 0);
    assert_sound(&store).await;
}

fn withdraw(profile: Uuid, size: Size, ref_id: &str) -> CryptoWithdraw {
    CryptoWithdraw {
        by: Requester {
            ref_id: Some(ref_id.to_string()),
            identity_id: None,
            account_id: None,
            metadata: None,
            fields: ("identity_id", "account_id"),
            user: None,
        },
        profile,
        asset: Asset::Usdc,
        balance_asset: Some(Asset::Usd),
        network: CryptoNetwork::Ethereum,
        destination_address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
        size,
        fee_id: None,
        memo: None,
    }
}

fn between(customer_ref: &str, from: Uuid, to: Uuid, amount: &str, between: Between) -> Move {
    Move {
        between,
        by: Requester {
            ref_id: Some(customer_ref.to_string()),
            identity_id: None,
            account_id: None,
            metadata: None,
            fields: ("from_identity_id", "from_account_id"),
            user: None,
        },
        from,
        to,
        asset: Asset::Usd,
        amount: amount.to_string(),
        to_identity_id: None,
        to_account_id: None,
        recipient_metadata: None,
    }
}

fn created<T: std::fmt::Debug>(outcome: Created<T>) -> T {
    match outcome {
        Created::New(t) => t,
        other => panic!("expected a new one, got {other:?}"),
    }
}

/// A failed withdrawal refunds all of it, fee included; a sent one keeps
/// its fee; internal and Paxos transfers move exactly; the books balance.
async fn withdrawals_and_transfers_keep_the_books(mut db: Scratch) {
    db.core.fees = Fees {
        crypto_withdrawal: Some(Amount::parse("0.5", 6).unwrap()),
        ..Fees::default()
    };
    let (alice, profile) = customer_with_dollars(&db, "100").await;
    let (bob, bobs) = customer_with_dollars(&db, "0.01").await;
    let total = Size::Total("20.5".into());
    let failing = created(
        crypto(&db.core, alice, withdraw(profile, total, "w-1"), NOW)
            .await
            .unwrap(),
    );
    assert_eq!((failing.units, failing.fee_units), (20_000_000, 500_000));
    assert_eq!(
        available(&db.store, profile, Asset::Usd).await,
        units("79.5", Asset::Usd)
    );
    decide(&db.core, alice, failing.id, Decision::Fail, NOW)
        .await
        .unwrap();
    assert_eq!(
        available(&db.store, profile, Asset::Usd).await,
        units("100", Asset::Usd)
    );
    let sent = withdraw(profile, Size::Amount("10".into()), "w-2");
    let sent = created(crypto(&db.core, alice, sent, NOW).await.unwrap());
    let done = decide(&db.core, alice, sent.id, Decision::Complete, NOW)
        .await
        .unwrap();
    assert_eq!(done.status, TransferStatus::Completed);
    assert!(done.crypto_tx_hash.is_some());
    assert_eq!(
        available(&db.store, profile, Asset::Usd).await,
        units("89.5", Asset::Usd)
    );
    // Finished is final.
    let again = decide(&db.core, alice, sent.id, Decision::Fail, NOW).await;
    assert!(matches!(again, Err(CoreError::Conflict(_))), "{again:?}");

    let paid = between("p-1", profile, bobs, "9.5", Between::Customers);
    created(
        profile_transfers::create(&db.core, alice, paid, NOW)
            .await
            .unwrap(),
    );
    assert_eq!(
        available(&db.store, bobs, Asset::Usd).await,
        units("9.51", Asset::Usd)
    );
    let own = between("p-2", profile, bobs, "1", Between::OwnProfiles);
    let refused = profile_transfers::create(&db.core, alice, own, NOW).await;
    assert!(
        matches!(refused, Err(CoreError::NotFound(_))),
        "{refused:?}"
    );
    let repeat = between("p-1", profile, bobs, "9.5", Between::Customers);
    let repeat = profile_transfers::create(&db.core, alice, repeat, NOW)
        .await
        .unwrap();
    assert!(matches!(repeat, Created::Existing(_)));
    assert_eq!(
        available(&db.store, profile, Asset::Usd).await,
        units("80", Asset::Usd)
    );
    let _ = bob;
    assert_sound(&db.store).await;
}

/// Two profiles paying each other at once, many times over: every transfer
/// either moves or is refused for funds, none deadlocks, and no balance is
/// ever below zero.
async fn opposite_transfers_neither_deadlock_nor_overdraw(db: Scratch) {
    let (customer, a) = customer_with_dollars(&db, "50").await;
    let b = Uuid::now_v7();
    let profile = Profile {
        id: b,
        customer_id: customer,
        nickname: "b".into(),
        description: None,
        kind: ProfileKind::Normal,
        created_at: NOW,
        updated_at: NOW,
        deactivated: false,
        account_id: None,
    };
    db.store.create_profile(&profile).await.unwrap();
    let core = Arc::new(db.core);
    let mut tasks = Vec::new();
    for k in 0..40 {
        let (from, to) = if k % 2 == 0 { (a, b) } else { (b, a) };
        let core = core.clone();
        tasks.push(tokio::spawn(async move {
            let cmd = between(&format!("t-{k}"), from, to, "10", Between::OwnProfiles);
            profile_transfers::create(&core, customer, cmd, NOW).await
        }));
    }
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) | Err(CoreError::InsufficientFunds { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let sum = available(&db.store, a, Asset::Usd).await + available(&db.store, b, Asset::Usd).await;
    assert_eq!(sum, units("50", Asset::Usd));
    assert_sound(&db.store).await;
}

/// Five wrong passwords lock an email (even against the right one) until
/// the lockout passes; a session ends at sign-out, at its expiry, or when
/// its user is disabled.
async fn sign_in_locks_after_failures_and_sessions_end(db: Scratch) {
    use stableport_core::sessions::{self, Refused, LOCKOUT, SESSION_TTL};
    use stableport_core::users::{self, NewUser};
    use stableport_domain::Role;

    let customer = Uuid::new_v4();
    db.store.create_customer(customer, NOW).await.unwrap();
    let new = |email: &str| NewUser {
        email: email.into(),
        roles: vec![Role::Viewer],
        password: Some("correct horse battery".into()),
    };
    let ada = users::create(&db.core, customer, None, new("ada@example.com"), NOW)
        .await
        .unwrap();
    users::create(&db.core, customer, None, new("bob@example.com"), NOW)
        .await
        .unwrap();
    let sign_in = |email: &'static str, password: &'static str, at: i64| {
        let core = &db.core;
        async move {
            sessions::sign_in(core, email, password.into(), at)
                .await
                .unwrap()
        }
    };
    for _ in 0..4 {
        assert_eq!(
            sign_in("bob@example.com", "wrong", NOW).await.err(),
            Some(Refused::Wrong)
        );
    }
    let locked = sign_in("bob@example.com", "wrong", NOW).await.err();
    assert!(matches!(locked, Some(Refused::Locked { .. })), "{locked:?}");
    let still = sign_in("bob@example.com", "correct horse battery", NOW + 1)
        .await
        .err();
    assert!(matches!(still, Some(Refused::Locked { .. })), "{still:?}");
    let later = NOW + LOCKOUT.as_micros() as i64 + 1;
    assert!(sign_in("bob@example.com", "correct horse battery", later)
        .await
        .is_ok());
    assert_eq!(
        sign_in("nobody@example.com", "x", NOW).await.err(),
        Some(Refused::Wrong)
    );

    let signed = sign_in("ada@example.com", "correct horse battery", NOW)
        .await
        .unwrap();
    assert_ne!(
        signed.session.token_hash, signed.token,
        "only a hash is stored"
    );
    let found = sessions::find(&db.core, &signed.token, NOW + 1)
        .await
        .unwrap();
    assert_eq!(found.map(|(_, u)| u.id), Some(ada.user.id));
    let expired = NOW + SESSION_TTL.as_micros() as i64 + 1;
    assert!(sessions::find(&db.core, &signed.token, expired)
        .await
        .unwrap()
        .is_none());
    sessions::sign_out(&db.core, &signed.token).await.unwrap();
    assert!(sessions::find(&db.core, &signed.token, NOW + 1)
        .await
        .unwrap()
        .is_none());

    let again = sign_in("ada@example.com", "correct horse battery", NOW)
        .await
        .unwrap();
    users::disable(&db.core, customer, ada.user.id, NOW)
        .await
        .unwrap();
    assert!(sessions::find(&db.core, &again.token, NOW + 1)
        .await
        .unwrap()
        .is_none());
}
