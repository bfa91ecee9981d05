//! A small dynamic-SQL builder with `$n` placeholders (which both SQLite and
//! PostgreSQL accept), and the decoding of rows into the model.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};
use stableport_domain::{Asset, Direction, TransferKind, TransferStatus};
use uuid::Uuid;

use crate::model::*;
use crate::{Result, StoreError};

pub fn now_micros() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}

#[derive(Clone, Debug)]
pub enum Val {
    Int(i64),
    Text(String),
    OptInt(Option<i64>),
    OptText(Option<String>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}
impl From<Uuid> for Val {
    fn from(v: Uuid) -> Self {
        Val::Text(v.to_string())
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::OptInt(v)
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::OptText(v)
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Val::Int(v) => v.to_sql(),
            Val::Text(v) => v.to_sql(),
            Val::OptInt(v) => v.to_sql(),
            Val::OptText(v) => v.to_sql(),
        }
    }
}

#[derive(Default)]
pub struct Sql {
    text: String,
    args: Vec<Val>,
    /// Where each placeholder stands in `text`, to render SQLite's `?`.
    marks: Vec<std::ops::Range<usize>>,
    sqlite_text: std::cell::OnceCell<String>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            ..Sql::default()
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Val>) -> &mut Self {
        self.args.push(value.into());
        let start = self.text.len();
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self.marks.push(start..self.text.len());
        self
    }

    /// Appends `(v1, v2, ...)` for one row of a multi-row INSERT.
    pub fn row(&mut self, values: Vec<Val>) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self.text.push(')');
        self
    }

    /// The statements one after another, as one script run in a single
    /// round trip (SQLite: PostgreSQL takes one statement per query).
    /// Placeholders are numbered on through the whole script.
    pub fn script(statements: Vec<Sql>) -> Option<Sql> {
        let mut statements = statements.into_iter();
        let mut script = statements.next()?;
        for next in statements {
            script.text.push_str("; ");
            script.append(next);
        }
        Some(script)
    }

    /// The statement as PostgreSQL reads it.
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Appends `other`, its placeholders numbered on after this one's.
    pub fn append(&mut self, other: Sql) -> &mut Self {
        let mut at = 0;
        for (mark, arg) in other.marks.iter().zip(other.args) {
            self.text.push_str(&other.text[at..mark.start]);
            self.bind(arg);
            at = mark.end;
        }
        self.text.push_str(&other.text[at..]);
        self
    }

    /// On SQLite, numbered placeholders cost a name lookup each, in the parser
    /// and again when binding: quadratic in a many-row INSERT. Plain `?` costs
    /// nothing, and our placeholders are numbered in order, once each.
    pub fn query_on(&self, sqlite: bool) -> Query<'_, Any, AnyArguments<'_>> {
        let text = if sqlite {
            self.sqlite_text.get_or_init(|| self.positional())
        } else {
            &self.text
        };
        let mut q = sqlx::query(text);
        for arg in &self.args {
            q = match arg {
                Val::Int(v) => q.bind(*v),
                Val::Text(v) => q.bind(v.as_str()),
                Val::OptInt(v) => q.bind(*v),
                Val::OptText(v) => q.bind(v.as_deref()),
            };
        }
        q
    }

    /// The statement as SQLite reads it (`?` placeholders), and its values.
    pub(crate) fn for_sqlite(&self) -> (&str, &[Val]) {
        (
            self.sqlite_text.get_or_init(|| self.positional()),
            &self.args,
        )
    }

    fn positional(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        for mark in &self.marks {
            out.push_str(&self.text[at..mark.start]);
            out.push('?');
            at = mark.end;
        }
        out.push_str(&self.text[at..]);
        out
    }

    pub fn time_range(&mut self, column: &str, range: &TimeRange) -> &mut Self {
        for (op, bound) in [
            (">", range.gt),
            (">=", range.gte),
            ("<", range.lt),
            ("<=", range.lte),
            ("=", range.eq),
        ] {
            if let Some(t) = bound {
                self.push(&format!(" AND {column} {op} ")).bind(t);
            }
        }
        self
    }

    /// Keyset pagination on (created_at, id): stable while rows are added.
    pub fn page(&mut self, page: &Page) -> &mut Self {
        self.page_on(page, "id")
    }

    /// A page of a table whose rows are told apart by `key`, not `id`.
    pub fn page_on(&mut self, page: &Page, key: &str) -> &mut Self {
        let (cmp, dir) = match page.order {
            Order::Asc => (">", "ASC"),
            Order::Desc => ("<", "DESC"),
        };
        let column = page.by.column();
        if let Some((time, id)) = &page.after {
            self.push(&format!(" AND ({column}, {key}) {cmp} ("))
                .bind(*time)
                .push(", ")
                .bind(id.as_str())
                .push(")");
        }
        self.push(&format!(" ORDER BY {column} {dir}, {key} {dir} LIMIT "))
            .bind(page.limit)
    }
}

/// A value a column decodes into, through either driver.
pub trait Column:
    Sized + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql
{
}
impl<T> Column for T where
    T: Sized + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql
{
}

/// A row's columns by name: sqlx's rows, and the rows of the SQLite
/// reads run on the caller's thread (`inline`), decode alike.
pub trait Columns {
    fn value<T: Column>(&self, column: &str) -> Result<T>;
    /// A text column borrowed, for values parsed from it (ids, assets):
    /// no String made and dropped for each.
    fn text(&self, column: &str) -> Result<Option<&str>>;
}

impl Columns for AnyRow {
    fn value<T: Column>(&self, column: &str) -> Result<T> {
        Ok(self.try_get(column)?)
    }

    fn text(&self, column: &str) -> Result<Option<&str>> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for crate::inline::NamedRow<'_> {
    fn value<T: Column>(&self, column: &str) -> Result<T> {
        Ok(self.get(column)?)
    }

    fn text(&self, column: &str) -> Result<Option<&str>> {
        Ok(crate::inline::NamedRow::text(self, column)?)
    }
}

/// A text column that may not be NULL.
fn required_text<'r, R: Columns>(row: &'r R, column: &str) -> Result<&'r str> {
    row.text(column)?
        .ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
}

pub fn parse_uuid(text: &str, column: &str) -> Result<Uuid> {
    Uuid::parse_str(text)
        .map_err(|_| StoreError::Corrupt(format!("{column} {text:?} is not a UUID")))
}

pub fn uuid<R: Columns>(row: &R, column: &str) -> Result<Uuid> {
    parse_uuid(required_text(row, column)?, column)
}

/// The row's `id`.
pub fn id<R: Columns>(row: &R) -> Result<Uuid> {
    uuid(row, "id")
}

pub fn opt_uuid<R: Columns>(row: &R, column: &str) -> Result<Option<Uuid>> {
    (row.text(column)?)
        .map(|t| parse_uuid(t, column))
        .transpose()
}

pub fn asset<R: Columns>(row: &R, column: &str) -> Result<Asset> {
    let text = required_text(row, column)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} {text:?} is not an asset")))
}

/// A balance row, or None for the row of NULLs a LEFT JOIN gives a
/// profile without balances.
pub fn balance_or_none<R: Columns>(row: &R) -> Result<Option<Balance>> {
    if row.value::<Option<String>>("asset")?.is_none() {
        return Ok(None);
    }
    Ok(Some(Balance {
        asset: asset(row, "asset")?,
        available: row.value("available")?,
    }))
}

pub const PROFILE_COLUMNS: &str =
    "id, customer_id, nickname, description, kind, created_at, updated_at, deactivated_at, account_id";

pub fn profile<R: Columns>(row: &R) -> Result<Profile> {
    let kind: String = row.value("kind")?;
    Ok(Profile {
        id: uuid(row, "id")?,
        customer_id: uuid(row, "customer_id")?,
        nickname: row.value("nickname")?,
        description: row.value("description")?,
        kind: if kind == "DEFAULT" {
            ProfileKind::Default
        } else {
            ProfileKind::Normal
        },
        created_at: row.value("created_at")?,
        updated_at: row.value("updated_at")?,
        deactivated: row.value::<Option<i64>>("deactivated_at")?.is_some(),
        account_id: opt_uuid(row, "account_id")?,
    })
}

pub const CONVERSION_COLUMNS: &str = "id, customer_id, profile_id, recipient_profile_id, amount, source_asset, \
     target_asset, source_units, target_units, status, ref_id, identity_id, account_id, metadata, created_at, \
     updated_at, settled_at, cancelled_at";

pub fn conversion<R: Columns>(row: &R) -> Result<Conversion> {
    Ok(Conversion {
        id: uuid(row, "id")?,
        customer_id: uuid(row, "customer_id")?,
        profile_id: uuid(row, "profile_id")?,
        recipient_profile_id: opt_uuid(row, "recipient_profile_id")?,
        amount: row.value("amount")?,
        source_asset: asset(row, "source_asset")?,
        target_asset: asset(row, "target_asset")?,
        source_units: row.value("source_units")?,
        target_units: row.value("target_units")?,
        status: (required_text(row, "status")?.parse()).map_err(StoreError::Corrupt)?,
        ref_id: row.value("ref_id")?,
        identity_id: row.value("identity_id")?,
        account_id: row.value("account_id")?,
        metadata: row.value("metadata")?,
        created_at: row.value("created_at")?,
        updated_at: row.value("updated_at")?,
        settled_at: row.value("settled_at")?,
        cancelled_at: row.value("cancelled_at")?,
    })
}

/// CONVERSION_COLUMNS and settle_after with their types, for a recordset.
pub const CONVERSION_RECORD: &str = "id text, customer_id text, profile_id text, \
     recipient_profile_id text, amount text, source_asset text, target_asset text, source_units bigint, \
     target_units bigint, status text, ref_id text, identity_id text, account_id text, metadata text, \
     created_at bigint, updated_at bigint, settled_at bigint, cancelled_at bigint, settle_after bigint";

/// The values of a new conversion, in CONVERSION_RECORD order.
pub fn conversion_values(c: &NewConversion) -> Vec<Val> {
    vec![
        c.id.into(),
        c.customer_id.into(),
        c.profile_id.into(),
        c.recipient_profile_id.map(|p| p.to_string()).into(),
        c.amount.clone().into(),
        c.source_asset.code().into(),
        c.target_asset.code().into(),
        c.source_units.into(),
        c.target_units.into(),
        "CREATED".into(),
        c.ref_id.clone().into(),
        c.identity_id.clone().into(),
        c.account_id.clone().into(),
        c.metadata.clone().into(),
        c.now.into(),
        c.now.into(),
        Option::<i64>::None.into(),
        Option::<i64>::None.into(),
        c.settle_after.into(),
    ]
}

pub const TRANSFER_COLUMNS: &str = "id, customer_id, profile_id, identity_id, account_id, ref_id, type, direction, \
     status, asset, units, crypto_network, crypto_tx_hash, destination_address, fiat_account_id, memo, group_id, \
     metadata, fee_units, balance_asset, balance_units, next_step_at, created_at, updated_at";

/// TRANSFER_COLUMNS with their types, for a recordset.
pub const TRANSFER_RECORD: &str = "id text, customer_id text, profile_id text, identity_id text, \
     account_id text, ref_id text, type text, direction text, status text, asset text, units bigint, \
     crypto_network text, crypto_tx_hash text, destination_address text, fiat_account_id text, memo text, \
     group_id text, metadata text, fee_units bigint, balance_asset text, balance_units bigint, \
     next_step_at bigint, created_at bigint, updated_at bigint";

pub fn transfer_values(t: &Transfer) -> Vec<Val> {
    vec![
        t.id.into(),
        t.customer_id.into(),
        t.profile_id.into(),
        t.identity_id.clone().into(),
        t.account_id.clone().into(),
        t.ref_id.clone().into(),
        t.kind.as_str().into(),
        t.direction.as_str().into(),
        t.status.as_str().into(),
        t.asset.code().into(),
        t.units.into(),
        t.crypto_network.clone().into(),
        t.crypto_tx_hash.clone().into(),
        t.destination_address.clone().into(),
        t.fiat_account_id.clone().into(),
        t.memo.clone().into(),
        t.group_id.clone().into(),
        t.metadata.clone().into(),
        t.fee_units.into(),
        t.balance.map(|(a, _)| a.code().to_string()).into(),
        t.balance.map(|(_, units)| units).into(),
        t.next_step_at.into(),
        t.created_at.into(),
        t.updated_at.into(),
    ]
}

/// A column stored from a fixed set, read back into its enum.
fn known<T, R: Columns>(row: &R, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let value: String = row.value(column)?;
    parse(&value).ok_or_else(|| StoreError::Corrupt(format!("{column} {value:?} is not known")))
}

pub fn transfer<R: Columns>(row: &R) -> Result<Transfer> {
    Ok(Transfer {
        id: uuid(row, "id")?,
        customer_id: uuid(row, "customer_id")?,
        profile_id: uuid(row, "profile_id")?,
        identity_id: row.value("identity_id")?,
        account_id: row.value("account_id")?,
        ref_id: row.value("ref_id")?,
        kind: known(row, "type", TransferKind::parse)?,
        direction: known(row, "direction", Direction::parse)?,
        status: known(row, "status", TransferStatus::parse)?,
        asset: asset(row, "asset")?,
        units: row.value("units")?,
        crypto_network: row.value("crypto_network")?,
        crypto_tx_hash: row.value("crypto_tx_hash")?,
        destination_address: row.value("destination_address")?,
        fiat_account_id: row.value("fiat_account_id")?,
        memo: row.value("memo")?,
        group_id: row.value("group_id")?,
        metadata: row.value("metadata")?,
        fee_units: row.value("fee_units")?,
        balance: match row.value::<Option<String>>("balance_asset")? {
            None => None,
            Some(_) => Some((asset(row, "balance_asset")?, row.value("balance_units")?)),
        },
        next_step_at: row.value("next_step_at")?,
        created_at: row.value("created_at")?,
        updated_at: row.value("updated_at")?,
    })
}

/// Appends ` AND column IN (...)` when `values` is not empty.
impl Sql {
    pub fn any_of<V: Into<Val> + Clone>(&mut self, column: &str, values: &[V]) -> &mut Self {
        if values.is_empty() {
            return self;
        }
        self.push(&format!(" AND {column} IN ("));
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v.clone());
        }
        self.push(")")
    }
}

/// PostgreSQL only: many rows as one JSON parameter, read back as a table.
impl Sql {
    /// Appends `json_to_recordset(CAST($n AS json)) AS r(<record>)`, where
    /// `record` names each column and its type (`"id text, units bigint"`)
    /// and each row gives a value per column, in order. A statement over
    /// any number of rows then has one shape, prepared once per connection,
    /// and is one round trip: multi-row VALUES took one statement per run.
    ///
    /// Such a statement that reads a table must be planned afresh on every
    /// run, which every PostgreSQL connection does (`plan_cache_mode`, in
    /// `dialect.rs`). PostgreSQL guesses 100 rows for any recordset: a plan
    /// kept from when the table was small (a hash join over a scan of the
    /// whole table) was still used when it had grown, until its next
    /// ANALYZE: lookups of a batch's ref_ids averaged 3.6 ms over a run that
    /// grew the table to 22,000 orchestrations, against 0.07-0.26 ms for the
    /// multi-row VALUES before. Planned each time with the table's size as
    /// it is now, it is an index probe per row.
    pub fn recordset(
        &mut self,
        record: &str,
        rows: impl IntoIterator<Item = Vec<Val>>,
    ) -> &mut Self {
        self.push("json_to_recordset(CAST(");
        self.bind(recordset_json(record, rows));
        self.push(&format!(" AS json)) AS r({record})"))
    }

    /// `INSERT INTO table (<record's columns>) SELECT <them> FROM <rows>`.
    pub fn insert_recordset(
        table: &str,
        record: &str,
        rows: impl IntoIterator<Item = Vec<Val>>,
    ) -> Sql {
        let names = record_names(record);
        let mut q = Sql::new(&format!(
            "INSERT INTO {table} ({names}) SELECT {names} FROM "
        ));
        q.recordset(record, rows);
        q
    }
}

impl Sql {
    /// ` (<record's columns>) IN <rows>`, for a batch's keys.
    ///
    /// SQLite: a VALUES list.
    ///
    /// PostgreSQL: a recordset, one parameter whatever the count. PostgreSQL
    /// guesses 100 rows for it and probes the key's index per row; for a
    /// VALUES list of 500 it knew the count and chose a hash join over a scan
    /// of the whole table until that passed about 57,000 rows (10 to 20 ms
    /// against 7 for 500 deliveries on 30,000).
    pub fn keys_in(
        &mut self,
        sqlite: bool,
        record: &str,
        rows: impl IntoIterator<Item = Vec<Val>>,
    ) -> &mut Self {
        let names = record_names(record);
        self.push(&format!(" ({names}) IN ("));
        if !sqlite {
            self.push(&format!("SELECT {names} FROM "));
            return self.recordset(record, rows).push(")");
        }
        self.push("VALUES ");
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.row(row);
        }
        self.push(")")
    }
}

impl Sql {
    /// PostgreSQL: ` AND column IN (<values as one JSON parameter>)`, of one
    /// shape however many values.
    pub fn any_in_set(&mut self, column: &str, values: &[impl ToString]) -> &mut Self {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        self.push(&format!(
            " AND {column} IN (SELECT json_array_elements_text(CAST("
        ));
        self.bind(serde_json::Value::from(values).to_string());
        self.push(" AS json)))")
    }
}

/// `INSERT INTO table (<record's columns>)` of `rows`: on SQLite one
/// multi-row VALUES per run of rows, each shape kept prepared; on
/// PostgreSQL one statement from a recordset. None for no rows.
pub fn inserts(sqlite: bool, table: &str, record: &str, rows: Vec<Vec<Val>>) -> Vec<Sql> {
    match sqlite {
        _ if rows.is_empty() => Vec::new(),
        true => {
            let insert = format!("INSERT INTO {table} ({}) VALUES ", record_names(record));
            let sizes: Vec<usize> = runs(&rows).iter().map(|run| run.len()).collect();
            let mut rows = rows.into_iter();
            (sizes.into_iter())
                .map(|size| {
                    let mut q = Sql::new(&insert);
                    for (n, row) in rows.by_ref().take(size).enumerate() {
                        if n > 0 {
                            q.push(", ");
                        }
                        q.row(row);
                    }
                    q
                })
                .collect()
        }
        false => vec![Sql::insert_recordset(table, record, rows)],
    }
}

/// `statement()` limited to `ids` (` AND column IN (...)`), then `tail`.
/// SQLite: one statement per run of ids, each shape kept prepared.
/// PostgreSQL: one statement, the ids in one parameter. None for no ids.
pub fn for_ids(
    sqlite: bool,
    ids: &[Uuid],
    column: &str,
    statement: impl Fn() -> Sql,
    tail: &str,
) -> Vec<Sql> {
    let limited = |set: &dyn Fn(&mut Sql)| {
        let mut q = statement();
        set(&mut q);
        q.push(tail);
        q
    };
    match sqlite {
        _ if ids.is_empty() => Vec::new(),
        true => (runs(ids).into_iter())
            .map(|run| {
                limited(&|q| {
                    q.any_of(column, run);
                })
            })
            .collect(),
        false => vec![limited(&|q| {
            q.any_in_set(column, ids);
        })],
    }
}

/// `(customer_id, ref_id) IN (...)` for these keys: on SQLite one
/// condition per run of keys, on PostgreSQL one, the keys in a parameter.
pub fn refs_in(sqlite: bool, keys: &[(Uuid, &str)]) -> Vec<Sql> {
    // SQLite reads conversions' partial index only when told ref_id is not
    // null: without it every batch scanned the table, and conversions with
    // ref_ids ran at an eighth of the rate without.
    let condition = |keys: &[(Uuid, &str)]| {
        let mut q = Sql::new("ref_id IS NOT NULL AND");
        let rows = keys.iter().map(|(c, r)| vec![(*c).into(), (*r).into()]);
        q.keys_in(sqlite, "customer_id text, ref_id text", rows);
        q
    };
    match sqlite {
        _ if keys.is_empty() => Vec::new(),
        true => runs(keys).into_iter().map(condition).collect(),
        false => vec![condition(keys)],
    }
}

/// The rows of a recordset (see [`Sql::recordset`]) as its JSON parameter.
pub fn recordset_json(record: &str, rows: impl IntoIterator<Item = Vec<Val>>) -> String {
    let columns: Vec<(&str, &str)> = record
        .split(',')
        .filter_map(|c| c.trim().split_once(' '))
        .collect();
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            debug_assert_eq!(row.len(), columns.len(), "a row of {record}");
            let fields = columns.iter().zip(row).map(|((name, kind), value)| {
                debug_assert!(value.is_of(kind), "{name} {kind}: {value:?}");
                (name.to_string(), value.into_json())
            });
            serde_json::Value::Object(fields.collect())
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The column names of a record (`"id text, units bigint"` gives `"id, units"`).
pub fn record_names(record: &str) -> String {
    let names: Vec<&str> = record
        .split(',')
        .filter_map(|c| c.split_whitespace().next())
        .collect();
    names.join(", ")
}

impl Val {
    fn into_json(self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Val::Int(v) | Val::OptInt(Some(v)) => Value::from(v),
            Val::Text(v) | Val::OptText(Some(v)) => Value::String(v),
            Val::OptInt(None) | Val::OptText(None) => Value::Null,
        }
    }

    /// Whether the value fits a recordset column of SQL type `kind`.
    fn is_of(&self, kind: &str) -> bool {
        match self {
            Val::Int(_) | Val::OptInt(_) => kind == "bigint",
            Val::Text(_) | Val::OptText(_) => kind == "text",
        }
    }
}

/// Splits rows into runs of 64, 16, 4 and 1: few distinct statement shapes,
/// so each is prepared once per connection and then reused.
pub fn runs<T>(rows: &[T]) -> Vec<&[T]> {
    let mut runs = Vec::new();
    let mut rest = rows;
    for size in [64, 16, 4, 1] {
        while rest.len() >= size {
            let (run, tail) = rest.split_at(size);
            runs.push(run);
            rest = tail;
        }
    }
    runs
}

/// Whether a transaction runs on SQLite (it renders placeholders as `?`).
pub fn is_sqlite(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name() == "SQLite"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_positional_placeholders_for_sqlite() {
        let mut q = Sql::new("SELECT * FROM t WHERE a = ");
        q.bind(1)
            .push(" AND b IN (")
            .bind("x")
            .push(", ")
            .bind("y")
            .push(") LIMIT ")
            .bind(10);
        assert_eq!(
            q.text,
            "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT $4"
        );
        assert_eq!(
            q.positional(),
            "SELECT * FROM t WHERE a = ? AND b IN (?, ?) LIMIT ?"
        );
    }

    #[test]
    fn a_script_numbers_placeholders_on_through_its_statements() {
        let mut a = Sql::new("INSERT INTO t VALUES ");
        a.row(vec![1.into(), "x".into()]);
        let mut b = Sql::new("DELETE FROM t WHERE a = ");
        b.bind(2).push(" AND b = ").bind("y");
        let script = Sql::script(vec![a, b]).unwrap();
        assert_eq!(
            script.text,
            "INSERT INTO t VALUES ($1, $2); DELETE FROM t WHERE a = $3 AND b = $4"
        );
        assert_eq!(script.args.len(), 4);
        assert_eq!(
            script.positional(),
            "INSERT INTO t VALUES (?, ?); DELETE FROM t WHERE a = ? AND b = ?"
        );
        assert!(Sql::script(Vec::new()).is_none());
    }

    #[test]
    fn records_name_the_columns_they_stand_for() {
        let with_settle_after = format!("{CONVERSION_COLUMNS}, settle_after");
        assert_eq!(record_names(CONVERSION_RECORD), with_settle_after);
        assert_eq!(record_names(TRANSFER_RECORD), TRANSFER_COLUMNS);
    }

    #[test]
    fn a_recordset_carries_its_rows_as_one_json_parameter() {
        let rows = vec![
            vec![Val::Int(7), Val::OptText(None)],
            vec![Val::Int(-1), Val::OptText(Some("it's".into()))],
        ];
        let q = Sql::insert_recordset("t", "a bigint, b text", rows);
        assert_eq!(
            q.text,
            "INSERT INTO t (a, b) SELECT a, b FROM json_to_recordset(CAST($1 AS json)) AS r(a bigint, b text)"
        );
        let Val::Text(json) = &q.args[0] else {
            panic!("{:?}", q.args)
        };
        let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([{"a": 7, "b": null}, {"a": -1, "b": "it's"}])
        );
    }

    #[test]
    fn keys_are_a_values_list_on_sqlite_and_one_recordset_on_postgres() {
        let keys = || {
            vec![
                vec!["w1".into(), "e1".into()],
                vec!["w2".into(), "e2".into()],
            ]
        };
        let mut sqlite = Sql::new("UPDATE t SET x = 1 WHERE");
        sqlite.keys_in(true, "w text, e text", keys());
        assert_eq!(
            sqlite.text,
            "UPDATE t SET x = 1 WHERE (w, e) IN (VALUES ($1, $2), ($3, $4))"
        );
        let mut postgres = Sql::new("UPDATE t SET x = 1 WHERE");
        postgres.keys_in(false, "w text, e text", keys());
        assert_eq!(
            postgres.text,
            "UPDATE t SET x = 1 WHERE (w, e) IN (SELECT w, e FROM json_to_recordset(CAST($1 AS json)) AS r(w text, e text))"
        );
        assert_eq!(postgres.args.len(), 1, "every key in one parameter");
    }

    /// SQLite's plan for `q`, a line per step.
    fn sqlite_plan(db: &rusqlite::Connection, q: &Sql) -> Vec<String> {
        let mut plan = db
            .prepare(&format!("EXPLAIN QUERY PLAN {}", q.positional()))
            .unwrap();
        let args = rusqlite::params_from_iter(vec!["x"; plan.parameter_count()]);
        let rows = plan.query_map(args, |row| row.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn a_batch_of_ref_ids_is_an_index_search_on_sqlite() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE conversions (id TEXT PRIMARY KEY, customer_id TEXT, ref_id TEXT);
             CREATE UNIQUE INDEX conversions_ref_id ON conversions (customer_id, ref_id)
                 WHERE ref_id IS NOT NULL;",
        )
        .unwrap();
        let customer = Uuid::nil();
        let refs = [
            (customer, "a"),
            (customer, "b"),
            (customer, "c"),
            (customer, "d"),
        ];
        for condition in refs_in(true, &refs) {
            let mut q = Sql::new("SELECT id FROM conversions WHERE ");
            q.append(condition);
            let plan = sqlite_plan(&db, &q);
            let searched = "SEARCH conversions USING INDEX conversions_ref_id";
            assert!(plan.iter().any(|d| d.starts_with(searched)), "{plan:?}");
        }
    }

    #[test]
    fn runs_cover_every_row_in_few_shapes() {
        let rows: Vec<usize> = (0..87).collect();
        let sizes: Vec<usize> = runs(&rows).iter().map(|r| r.len()).collect();
        assert_eq!(sizes, [64, 16, 4, 1, 1, 1]);
        assert_eq!(runs(&rows).concat(), rows);
    }
}
