//! Ledger writes inside one transaction: balance checks on profile accounts
//! as each posting is applied, then the journal entries, postings and outbox
//! events of the whole transaction in a few multi-row INSERTs.

use stableport_domain::amount::MAX_BALANCE_UNITS;
use stableport_domain::{Account, Asset, DeliveryStatus, Posting};
use uuid::Uuid;

use crate::conn::{tx_rows, Conn};
use crate::model::Transfer;
use crate::sql::{runs, transfer_values, Columns, Sql, Val, TRANSFER_COLUMNS, TRANSFER_RECORD};
use crate::Result;

/// Why a set of postings could not be applied.
#[derive(Debug)]
pub enum Refused {
    /// A debit found less than it needed.
    Insufficient { available: i64 },
    /// A credit would push a balance past MAX_BALANCE_UNITS.
    Limit,
}

/// Locks the balance rows of `keys` in one global order (profile, then
/// asset) before any is changed, so transactions that touch the same
/// balances queue behind each other instead of deadlocking. PostgreSQL
/// only: SQLite has a single writer.
pub async fn lock_balances(
    tx: &mut Conn,
    keys: impl IntoIterator<Item = (Uuid, Asset)>,
) -> Result<()> {
    if tx.sqlite() {
        return Ok(());
    }
    let keys = sorted_keys(keys);
    if keys.is_empty() {
        return Ok(());
    }
    let pool = tx.pool()?;
    (lock_balances_sql(&keys).query_on(false))
        .fetch_all(&mut **pool)
        .await?;
    Ok(())
}

fn sorted_keys(
    keys: impl IntoIterator<Item = (Uuid, Asset)>,
) -> std::collections::BTreeSet<(Uuid, &'static str)> {
    keys.into_iter().map(|(p, a)| (p, a.code())).collect()
}

/// One statement for all the keys: its rows are sorted, as PostgreSQL's
/// "C" collation sorts, then locked in that order.
pub(crate) fn lock_balances_sql<'a>(keys: impl IntoIterator<Item = &'a (Uuid, &'a str)>) -> Sql {
    let mut q = Sql::new("SELECT b.profile_id FROM balances b JOIN ");
    let rows = keys
        .into_iter()
        .map(|(p, a)| vec![(*p).into(), (*a).into()]);
    q.recordset("profile_id text, asset text", rows);
    q.push(
        r#" ON b.profile_id = r.profile_id AND b.asset = r.asset
           ORDER BY b.profile_id COLLATE "C", b.asset COLLATE "C" FOR UPDATE OF b"#,
    );
    q
}

/// Applies the profile postings to stored balances: a debit only where the
/// balance covers it, checked in the UPDATE itself so that concurrent
/// writers (other replicas) can never overdraw. All or nothing.
pub async fn apply_balances(tx: &mut Conn, postings: &[Posting]) -> Result<Result<(), Refused>> {
    let keys = postings
        .iter()
        .filter_map(|p| p.account.profile_id().map(|profile| (profile, p.asset)));
    lock_balances(tx, keys).await?;
    for (i, posting) in postings.iter().enumerate() {
        let Some(profile) = posting.account.profile_id() else {
            continue;
        };
        if let Err(refused) = change_balance(tx, profile, posting.asset, posting.units).await? {
            for applied in postings[..i]
                .iter()
                .filter(|p| p.account.profile_id().is_some())
            {
                let profile = applied.account.profile_id().unwrap_or_default();
                change_balance(tx, profile, applied.asset, -applied.units)
                    .await?
                    .ok();
            }
            return Ok(Err(refused));
        }
    }
    Ok(Ok(()))
}

async fn change_balance(
    tx: &mut Conn,
    profile: Uuid,
    asset: Asset,
    units: i64,
) -> Result<Result<(), Refused>> {
    let (check, bound) = match units < 0 {
        true => (" AND available >= ", -units),
        false => (" AND available <= ", MAX_BALANCE_UNITS - units),
    };
    let mut q = Sql::new("UPDATE balances SET available = available + ");
    q.bind(units).push(" WHERE profile_id = ").bind(profile);
    q.push(" AND asset = ").bind(asset.code());
    q.push(check).bind(bound);
    if tx.execute(q, true).await? == 1 {
        return Ok(Ok(()));
    }
    if units >= 0 {
        return Ok(Err(Refused::Limit));
    }
    Ok(Err(Refused::Insufficient {
        available: available(tx, profile, asset).await?,
    }))
}

/// The balance stored, 0 where there is none.
async fn available(tx: &mut Conn, profile: Uuid, asset: Asset) -> Result<i64> {
    let mut q = Sql::new("SELECT available FROM balances WHERE profile_id = ");
    q.bind(profile).push(" AND asset = ").bind(asset.code());
    let found = tx_rows!(&mut *tx, q, available_of)?;
    Ok(found.first().copied().unwrap_or(0))
}

fn available_of<R: Columns>(row: &R) -> Result<i64> {
    row.value("available")
}

fn balance_key<R: Columns>(row: &R) -> Result<(String, String)> {
    Ok((row.value("profile_id")?, row.value("asset")?))
}

struct Entry {
    id: Uuid,
    customer: Uuid,
    kind: &'static str,
    reference: Uuid,
    postings: Vec<Posting>,
    at: i64,
}

struct Event {
    customer: Uuid,
    kind: &'static str,
    object: Uuid,
    payload: String,
    at: i64,
}

/// Rows to insert at the end of a transaction.
#[derive(Default)]
pub struct LedgerRows {
    entries: Vec<Entry>,
    events: Vec<Event>,
    transfers: Vec<Transfer>,
}

impl LedgerRows {
    pub fn entry(
        &mut self,
        customer: Uuid,
        kind: &'static str,
        reference: Uuid,
        postings: Vec<Posting>,
        at: i64,
    ) {
        debug_assert!(stableport_domain::ledger::is_balanced(&postings));
        self.entries.push(Entry {
            id: stableport_domain::new_id(),
            customer,
            kind,
            reference,
            postings,
            at,
        });
    }

    pub fn event(
        &mut self,
        customer: Uuid,
        kind: &'static str,
        object: Uuid,
        payload: String,
        at: i64,
    ) {
        self.events.push(Event {
            customer,
            kind,
            object,
            payload,
            at,
        });
    }

    pub fn transfer(&mut self, transfer: Transfer) {
        self.transfers.push(transfer);
    }

    /// Writes every row recorded.
    pub async fn insert(self, tx: &mut Conn) -> Result<()> {
        if !tx.sqlite() {
            if !(self.entries.is_empty() && self.events.is_empty() && self.transfers.is_empty()) {
                tx.execute(self.postgres_statement(), true).await?;
            }
            return Ok(());
        }
        // Through sqlx to SQLite, one script: one hand-off instead of one
        // per statement. Else statements of few shapes, each kept prepared.
        let script = matches!(tx, Conn::Pool(_)) && tx.sqlite();
        let mut statements = transfer_statements(&self.transfers, script);
        statements.extend(entry_statements(&self.entries, script));
        statements.extend(event_statements(&self.events, script));
        if let (Conn::Pool(pool), true) = (&mut *tx, script) {
            if let Some(script) = Sql::script(statements) {
                let q = script.query_on(true).persistent(false);
                q.execute(&mut **pool).await?;
            }
            return Ok(());
        }
        for statement in statements {
            tx.execute(statement, true).await?;
        }
        Ok(())
    }
}

impl LedgerRows {
    /// PostgreSQL: every row, and the outbox fan-out, in one statement of
    /// one shape (data-modifying CTEs over JSON recordsets): one round trip
    /// per transaction, however many rows, where runs of VALUES took one per
    /// run and table (fifteen or so for a batch of six).
    fn postgres_statement(&self) -> Sql {
        let mut q = Sql::new("WITH t AS (");
        q.append(Sql::insert_recordset(
            "transfers",
            TRANSFER_RECORD,
            self.transfers.iter().map(transfer_values),
        ));
        q.push("), j AS (");
        q.append(Sql::insert_recordset(
            "journal_entries",
            ENTRY_RECORD,
            self.entries.iter().map(entry_values),
        ));
        q.push("), p AS (");
        let postings = self
            .entries
            .iter()
            .flat_map(|e| e.postings.iter().map(move |p| posting_values(e.id, p)));
        q.append(Sql::insert_recordset("postings", POSTING_RECORD, postings));
        q.push("), e AS (");
        let ids = self.events.iter().map(|_| stableport_domain::new_id());
        let events = self
            .events
            .iter()
            .zip(ids)
            .map(|(e, id)| event_values(e, id));
        q.append(Sql::insert_recordset("events", EVENT_RECORD, events));
        q.push(" RETURNING id, customer_id, type, created_at) ");
        q.push(&FAN_OUT).push("e ").push(SUBSCRIBERS);
        q
    }
}

const ENTRY_RECORD: &str =
    "id text, customer_id text, kind text, reference_id text, created_at bigint";
const POSTING_RECORD: &str = "entry_id text, account text, asset text, amount bigint";
const EVENT_RECORD: &str =
    "id text, customer_id text, type text, object_id text, payload text, created_at bigint";

fn entry_values(e: &Entry) -> Vec<Val> {
    vec![
        e.id.into(),
        e.customer.into(),
        e.kind.into(),
        e.reference.into(),
        e.at.into(),
    ]
}

fn posting_values(entry: Uuid, p: &Posting) -> Vec<Val> {
    let account: Account = p.account;
    vec![
        entry.into(),
        account.key().into(),
        p.asset.code().into(),
        Val::Int(p.units),
    ]
}

fn event_values(e: &Event, id: Uuid) -> Vec<Val> {
    vec![
        id.into(),
        e.customer.into(),
        e.kind.into(),
        e.object.into(),
        e.payload.clone().into(),
        e.at.into(),
    ]
}

/// `rows` in as few statements as SQLite binds, for a script (prepared
/// afresh anyway), or else in runs of few shapes, each prepared once and
/// kept.
fn chunks<T>(rows: &[T], script: bool) -> Vec<&[T]> {
    match script {
        true => rows.chunks(MAX_ROWS).collect(),
        false => runs(rows),
    }
}

/// Rows per statement at most: SQLite binds at most 32,766 values in one.
const MAX_ROWS: usize = 1024;

fn transfer_statements(transfers: &[Transfer], script: bool) -> Vec<Sql> {
    let insert = format!("INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES ");
    let rows = |chunk: &[Transfer]| chunk.iter().map(transfer_values).collect();
    chunks(transfers, script)
        .into_iter()
        .map(|chunk| values(&insert, rows(chunk)))
        .collect()
}

/// `insert` followed by one parenthesised row of values each.
fn values(insert: &str, rows: Vec<Vec<Val>>) -> Sql {
    let mut sql = Sql::new(insert);
    for (i, row) in rows.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.row(row);
    }
    sql
}

/// Journal entries, then all their postings.
fn entry_statements(entries: &[Entry], script: bool) -> Vec<Sql> {
    let insert =
        "INSERT INTO journal_entries (id, customer_id, kind, reference_id, created_at) VALUES ";
    let mut statements: Vec<Sql> = chunks(entries, script)
        .into_iter()
        .map(|chunk| values(insert, chunk.iter().map(entry_values).collect()))
        .collect();
    let postings: Vec<(Uuid, &Posting)> = entries
        .iter()
        .flat_map(|e| e.postings.iter().map(move |p| (e.id, p)))
        .collect();
    let insert = "INSERT INTO postings (entry_id, account, asset, amount) VALUES ";
    statements.extend(chunks(&postings, script).into_iter().map(|chunk| {
        let rows = chunk.iter().map(|(entry, p)| posting_values(*entry, p));
        values(insert, rows.collect())
    }));
    statements
}

/// The start of the outbox fan-out statement, built once.
static FAN_OUT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("INSERT INTO deliveries (webhook_id, event_id, customer_id, status, attempts, next_attempt_at, \
             retry_from, created_at, updated_at) \
             SELECT s.webhook_id, e.id, e.customer_id, '{}', 0, e.created_at, e.created_at, e.created_at, e.created_at \
             FROM ",
            DeliveryStatus::Pending.as_str()
    )
});

/// The fan-out's join of events `e` to their subscribers.
const SUBSCRIBERS: &str =
    "JOIN webhook_subscriptions s ON s.customer_id = e.customer_id AND s.type = e.type";

/// Events, and the outbox fan-out: one delivery per active webhook
/// subscribed to the event's type, committed with the event itself.
fn event_statements(events: &[Event], script: bool) -> Vec<Sql> {
    let insert =
        "INSERT INTO events (id, customer_id, type, object_id, payload, created_at) VALUES ";
    let mut statements = Vec::new();
    for chunk in chunks(events, script) {
        let ids: Vec<Uuid> = chunk.iter().map(|_| stableport_domain::new_id()).collect();
        let rows = chunk.iter().zip(&ids).map(|(e, id)| event_values(e, *id));
        statements.push(values(insert, rows.collect()));
        let mut fan_out = Sql::new(&FAN_OUT);
        fan_out
            .push("events e ")
            .push(SUBSCRIBERS)
            .push(" WHERE e.id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                fan_out.push(", ");
            }
            fan_out.bind(*id);
        }
        fan_out.push(")");
        statements.push(fan_out);
    }
    statements
}

/// Applies many balance changes on distinct (profile, asset) pairs in one
/// statement per run of rows, and says which applied: a debit only where the
/// balance covers it, a credit only below MAX_BALANCE_UNITS. One round trip
/// instead of one per change is what lets a batch commit quickly.
///
/// On PostgreSQL it first locks the balances of `locking` (which must hold
/// every changed one) in the one global order, as [`lock_balances`] does,
/// within the same statement: a round trip and a plan fewer per batch.
pub async fn change_balances(
    tx: &mut Conn,
    locking: impl IntoIterator<Item = (Uuid, Asset)>,
    changes: &[(Uuid, Asset, i64)],
) -> Result<Vec<bool>> {
    let mut applied = std::collections::HashSet::new();
    let statements: Vec<Sql> = match tx.sqlite() {
        true => runs(changes).into_iter().map(balance_changes).collect(),
        false if changes.is_empty() => {
            lock_balances(tx, locking).await?;
            Vec::new()
        }
        false => vec![locked_balance_changes(&sorted_keys(locking), changes)],
    };
    for q in statements {
        applied.extend(tx_rows!(&mut *tx, q, balance_key)?);
    }
    Ok(changes
        .iter()
        .map(|(profile, asset, _)| {
            applied.contains(&(profile.to_string(), asset.code().to_string()))
        })
        .collect())
}

const CHANGE_BALANCES: &str =
    "UPDATE balances SET available = balances.available + r.column3 FROM ";

/// The change `r`: columns profile, asset and units.
static CHANGE_BALANCES_MATCH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "balances.profile_id = r.column1 AND balances.asset = r.column2 \
         AND ((r.column3 < 0 AND balances.available >= -r.column3) \
         OR (r.column3 >= 0 AND balances.available <= {MAX_BALANCE_UNITS} - r.column3)) \
         RETURNING balances.profile_id, balances.asset"
    )
});

/// PostgreSQL: the lock of [`lock_balances_sql`] as a CTE, and the changes
/// as one UPDATE over a recordset. The UPDATE's only condition on the CTE
/// refers to no row, so it is a one-time filter, checked (and the CTE run
/// to its end, every lock taken in order) before the UPDATE reads a row.
pub(crate) fn locked_balance_changes(
    locking: &std::collections::BTreeSet<(Uuid, &str)>,
    changes: &[(Uuid, Asset, i64)],
) -> Sql {
    let mut q = Sql::new("WITH locked AS (");
    q.append(lock_balances_sql(locking));
    q.push(") ").push(CHANGE_BALANCES);
    let rows = changes
        .iter()
        .map(|(p, a, units)| vec![(*p).into(), a.code().into(), (*units).into()]);
    q.recordset("column1 text, column2 text, column3 bigint", rows);
    q.push(" WHERE (SELECT count(*) FROM locked) >= 0 AND ");
    q.push(&CHANGE_BALANCES_MATCH);
    q
}

/// SQLite: a run of changes as a VALUES list `r`.
fn balance_changes(run: &[(Uuid, Asset, i64)]) -> Sql {
    let mut q = Sql::new(CHANGE_BALANCES);
    q.push("(VALUES ");
    for (i, (profile, asset, units)) in run.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(")
            .bind(*profile)
            .push(", ")
            .bind(asset.code())
            .push(", CAST(")
            .bind(*units)
            .push(" AS BIGINT))");
    }
    q.push(") AS r WHERE ").push(&CHANGE_BALANCES_MATCH);
    q
}

/// Debits a batch of requests, each `(profile, asset, units)`, checked in the
/// database: every distinct balance in one statement, repeats of a balance
/// one by one in order. Each gets Ok, or Err with the balance it found.
pub async fn debit_each(
    tx: &mut Conn,
    debits: &[(Uuid, Asset, i64)],
) -> Result<Vec<std::result::Result<(), i64>>> {
    let mut by_balance: std::collections::HashMap<(Uuid, Asset), Vec<usize>> = Default::default();
    for (i, (profile, asset, _)) in debits.iter().enumerate() {
        by_balance.entry((*profile, *asset)).or_default().push(i);
    }
    let (singles, repeats): (Vec<_>, Vec<_>) = by_balance.into_values().partition(|v| v.len() == 1);
    let singles: Vec<usize> = singles.into_iter().flatten().collect();
    let changes: Vec<_> = singles
        .iter()
        .map(|&i| (debits[i].0, debits[i].1, -debits[i].2))
        .collect();
    let mut outcomes = vec![Ok(()); debits.len()];
    let mut short = Vec::new();
    // Every balance of the batch is locked, the repeated ones too, before
    // any is changed.
    let locking = debits.iter().map(|(profile, asset, _)| (*profile, *asset));
    let applied = change_balances(tx, locking, &changes).await?;
    for (&i, ok) in singles.iter().zip(applied) {
        if !ok {
            short.push(i);
        }
    }
    for mut group in repeats {
        group.sort_unstable();
        for i in group {
            let (profile, asset, units) = debits[i];
            if let Err(Refused::Insufficient { available }) =
                change_balance(tx, profile, asset, -units).await?
            {
                outcomes[i] = Err(available);
            }
        }
    }
    for i in short {
        outcomes[i] = Err(available(tx, debits[i].0, debits[i].1).await?);
    }
    Ok(outcomes)
}
