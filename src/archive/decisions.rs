//! Decision records in the archive: written in batches, read back by id or a
//! buyer's decisions newest first, page by page (docs/archive.md).
//!
//! The `record` column is the whole record ([`record_to_json`]); the other
//! columns are what an auditor filters on, derived from it here so that they can
//! never disagree with what [`DecisionRecord::replay`] says. Reads rebuild the
//! record from `record` alone.

use super::SCHEMA;
use super::partitions::{self, Month};
use crate::domain::date::Date;
use crate::domain::decision_record::DecisionRecord;
use crate::store::decision_format::{decision_code, record_from_json, record_to_json};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// The columns `insert` writes, in the order of its bind parameters.
const COLUMNS: [&str; 10] = [
    "decision_id",
    "buyer_id",
    "order_id",
    "decision",
    "reason_codes",
    "amount_minor",
    "currency",
    "policy_version",
    "decided_at",
    "record",
];

/// The most records one `insert` takes: a bound on one statement's size
/// (about 2 KB a record), not a protocol limit (the values go as arrays).
pub const MAX_BATCH: usize = 10_000;

/// The first instant the archive cannot hold: partitions are named by
/// four-digit years, and December 9999's partition would end in year 10000.
fn end_of_range_ms() -> i64 {
    let last = Date::from_ymd(9999, 12, 1).expect("a valid date");
    i64::from(last.days()) * 86_400_000
}

fn time_of(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// A bound of a query as a timestamp. Nothing is archived outside
/// `0..end_of_range_ms()`, so clamping just past either end selects the same
/// rows, and keeps absurd bounds from overflowing the driver's conversion.
fn bound_of(ms: i64) -> SystemTime {
    time_of(ms.clamp(-1, end_of_range_ms()))
}

/// One record's values for the row `insert` writes.
struct Row<'a> {
    decision_id: Uuid,
    buyer_id: &'a str,
    order_id: &'a str,
    decision: &'static str,
    reason_codes: Vec<&'static str>,
    amount_minor: i64,
    currency: String,
    policy_version: &'a str,
    decided_at: SystemTime,
    record: serde_json::Value,
    decided_at_ms: i64,
}

impl<'a> Row<'a> {
    fn of(record: &'a DecisionRecord) -> Result<Row<'a>, String> {
        let inputs = &record.inputs;
        let id = &inputs.decision_id;
        let decision_id = Uuid::parse_str(id)
            .map_err(|_| format!("archive insert: decision id {id:?} is not a UUID"))?;
        let ms = record.decided_at_ms;
        if !(0..end_of_range_ms()).contains(&ms) {
            return Err(format!(
                "archive insert: decision {id} has a decision time out of range ({ms} ms)"
            ));
        }
        let replayed = record.replay();
        Ok(Row {
            decision_id,
            buyer_id: inputs.buyer.profile.id.as_str(),
            order_id: inputs.order_id.as_str(),
            decision: decision_code(replayed.decision),
            reason_codes: replayed.reasons.iter().map(|r| r.code.as_str()).collect(),
            amount_minor: inputs.amount.minor(),
            currency: inputs.amount.currency().code().to_owned(),
            policy_version: &inputs.policy_version,
            decided_at: time_of(ms),
            record: record_to_json(record),
            decided_at_ms: ms,
        })
    }

    fn month(&self) -> Month {
        Month::of(Date::from_unix_secs(self.decided_at_ms.div_euclid(1000)))
    }

    /// The reason codes as one text: `UNNEST` takes one-dimensional arrays,
    /// so the statement splits them again (codes are `[A-Z_]`: no comma).
    fn codes(&self) -> String {
        self.reason_codes.join(",")
    }
}

/// One statement for any batch size: each column is bound as one array and
/// `UNNEST` turns them into rows. The text never changes, so PostgreSQL
/// parses and plans a small statement per batch, not one with a placeholder
/// per value (which cost more than the rows themselves: measured in
/// BENCHMARKS.md, "Decision archive").
fn insert_sql() -> String {
    format!(
        "INSERT INTO {SCHEMA}.decisions ({columns}) \
         SELECT d, b, o, x, CASE WHEN c = '' THEN '{{}}'::text[] ELSE string_to_array(c, ',') END, \
         a, m, p, t, r \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], \
         $7::text[], $8::text[], $9::timestamptz[], $10::jsonb[]) AS u(d, b, o, x, c, a, m, p, t, r) \
         ON CONFLICT DO NOTHING",
        columns = COLUMNS.join(", ")
    )
}

/// Why a batch was not archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertError {
    /// The records themselves are refused (a value this writer or PostgreSQL
    /// rejects: a data exception or a constraint): the same batch fails again.
    Refused(String),
    /// The archive could not take it now (unreachable, timed out, …): retry.
    Failed(String),
}

impl std::fmt::Display for InsertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InsertError::Refused(e) | InsertError::Failed(e) => f.write_str(e),
        }
    }
}

/// SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the
/// rows are wrong, not the moment.
fn refused(error: &tokio_postgres::Error) -> bool {
    error
        .as_db_error()
        .is_some_and(|db| matches!(&db.code().code()[..2], "22" | "23"))
}

/// Archives a batch of records in one statement; answers how many were new.
/// Records archived before (same id and time) are skipped, so a batch shipped
/// again after a lost answer writes nothing twice. The partition of every month
/// the batch falls in is created first, each in its own statement: an empty
/// partition left by a failed insert is what `archive-migrate` makes anyway,
/// and a single INSERT is atomic without a transaction around it.
pub async fn insert(client: &Client, records: &[Arc<DecisionRecord>]) -> Result<u64, InsertError> {
    if records.is_empty() {
        return Ok(0);
    }
    if records.len() > MAX_BATCH {
        return Err(InsertError::Refused(format!(
            "archive insert: {} records in one batch, at most {MAX_BATCH}",
            records.len()
        )));
    }
    let mut rows = records
        .iter()
        .map(|record| Row::of(record))
        .collect::<Result<Vec<_>, _>>()
        .map_err(InsertError::Refused)?;
    // Key order: two writers inserting overlapping batches then wait on each
    // other's rows in the same order instead of deadlocking.
    rows.sort_by_key(|row| (row.decided_at_ms, row.decision_id));
    let months: BTreeSet<Month> = rows.iter().map(Row::month).collect();
    for month in months {
        partitions::ensure(client, month)
            .await
            .map_err(InsertError::Failed)?;
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.decision_id).collect();
    let buyers: Vec<&str> = rows.iter().map(|r| r.buyer_id).collect();
    let orders: Vec<&str> = rows.iter().map(|r| r.order_id).collect();
    let decisions: Vec<&str> = rows.iter().map(|r| r.decision).collect();
    let codes: Vec<String> = rows.iter().map(Row::codes).collect();
    let amounts: Vec<i64> = rows.iter().map(|r| r.amount_minor).collect();
    let currencies: Vec<&str> = rows.iter().map(|r| r.currency.as_str()).collect();
    let policies: Vec<&str> = rows.iter().map(|r| r.policy_version).collect();
    let times: Vec<SystemTime> = rows.iter().map(|r| r.decided_at).collect();
    let records: Vec<&serde_json::Value> = rows.iter().map(|r| &r.record).collect();
    let params: [&(dyn ToSql + Sync); COLUMNS.len()] = [
        &ids,
        &buyers,
        &orders,
        &decisions,
        &codes,
        &amounts,
        &currencies,
        &policies,
        &times,
        &records,
    ];
    client.execute(&insert_sql(), &params).await.map_err(|e| {
        // The server's own words (which constraint, which value), not only "db error".
        let detail = e.as_db_error().map_or_else(
            || e.to_string(),
            |db| format!("{}: {}", db.code().code(), db.message()),
        );
        let message = format!("archive insert of {} decisions: {detail}", rows.len());
        if refused(&e) {
            InsertError::Refused(message)
        } else {
            InsertError::Failed(message)
        }
    })
}

/// Sets a record PostgreSQL refused aside in `creditgate.rejected_decisions`
/// (as text: it fits whatever it is), with the reason.
pub async fn reject(client: &Client, record: &DecisionRecord, error: &str) -> Result<(), String> {
    client
        .execute(
            &format!(
                "INSERT INTO {SCHEMA}.rejected_decisions (decision_id, error, record) VALUES ($1, $2, $3)"
            ),
            &[
                &record.inputs.decision_id,
                &error,
                &record_to_json(record).to_string(),
            ],
        )
        .await
        .map(|_| ())
        .map_err(|e| format!("archive: setting aside decision {}: {e}", record.inputs.decision_id))
}

fn read(row: &tokio_postgres::Row) -> Result<DecisionRecord, String> {
    let json: serde_json::Value = row
        .try_get("record")
        .map_err(|e| format!("archive read: {e}"))?;
    record_from_json(&json)
}

/// The archived record of `decision_id`; None when there is none (an id that is
/// not a UUID names no archived decision).
pub async fn get(client: &Client, decision_id: &str) -> Result<Option<DecisionRecord>, String> {
    let Ok(id) = Uuid::parse_str(decision_id) else {
        return Ok(None);
    };
    // Every partition's primary key leads with decision_id: one index probe
    // each, no time needed.
    let row = client
        .query_opt(
            &format!("SELECT record FROM {SCHEMA}.decisions WHERE decision_id = $1"),
            &[&id],
        )
        .await
        .map_err(|e| format!("archive get {decision_id}: {e}"))?;
    row.as_ref().map(read).transpose()
}

/// `from <= decided_at < to`, each bound when given, as clauses appended to
/// `sql` with their parameters.
fn period_clauses<'a>(
    sql: &mut String,
    params: &mut Vec<&'a (dyn ToSql + Sync)>,
    from: Option<&'a SystemTime>,
    to: Option<&'a SystemTime>,
) {
    if let Some(from) = from {
        params.push(from);
        let _ = write!(sql, " AND decided_at >= ${}", params.len());
    }
    if let Some(to) = to {
        params.push(to);
        let _ = write!(sql, " AND decided_at < ${}", params.len());
    }
}

/// Where the next page of [`list`] starts: just after `record`.
pub fn cursor_after(record: &DecisionRecord) -> (i64, String) {
    (record.decided_at_ms, record.inputs.decision_id.clone())
}

/// Up to `limit` of `buyer_id`'s decisions with `from_ms <= decided_at <
/// to_ms` (either bound optional), newest first with ties in decision id order
/// (descending), strictly after `after` (a [`cursor_after`] of the previous
/// page's last record). A keyset page: rows archived meanwhile never shift it,
/// and each page costs one walk of the `decisions_buyer_time` index, whose
/// order this query's ORDER BY is.
pub async fn list(
    client: &Client,
    buyer_id: &str,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<DecisionRecord>, String> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let from = from_ms.map(bound_of);
    let to = to_ms.map(bound_of);
    let after = match after {
        Some((ms, id)) => Some((
            bound_of(ms),
            Uuid::parse_str(&id)
                .map_err(|_| format!("archive list: cursor decision id {id:?} is not a UUID"))?,
        )),
        None => None,
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // The clauses are fixed text; only which of them apply varies.
    let mut sql = format!("SELECT record FROM {SCHEMA}.decisions WHERE buyer_id = $1");
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&buyer_id];
    period_clauses(&mut sql, &mut params, from.as_ref(), to.as_ref());
    if let Some((at, id)) = &after {
        params.push(at);
        params.push(id);
        let n = params.len();
        let _ = write!(sql, " AND (decided_at, decision_id) < (${}, ${n})", n - 1);
    }
    params.push(&limit);
    let _ = write!(
        sql,
        " ORDER BY decided_at DESC, decision_id DESC LIMIT ${}",
        params.len()
    );
    let rows = client
        .query(&sql, &params)
        .await
        .map_err(|e| format!("archive list for buyer {buyer_id}: {e}"))?;
    rows.iter().map(read).collect()
}

/// Up to `limit` decisions of every buyer with `from_ms <= decided_at < to_ms`
/// (either bound optional), in decision id order, strictly after the id
/// `after`: a keyset walk of the primary key (decision_id leads it in every
/// partition, the time bounds prune partitions), so a scan of a month costs one
/// index walk per page and no sort. For readers whose result does not depend on
/// the order (a policy what-if).
pub async fn list_all(
    client: &Client,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<DecisionRecord>, String> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let from = from_ms.map(bound_of);
    let to = to_ms.map(bound_of);
    let after = after
        .map(|id| {
            Uuid::parse_str(id)
                .map_err(|_| format!("archive scan: cursor decision id {id:?} is not a UUID"))
        })
        .transpose()?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut sql = format!("SELECT record FROM {SCHEMA}.decisions WHERE TRUE");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    period_clauses(&mut sql, &mut params, from.as_ref(), to.as_ref());
    if let Some(id) = &after {
        params.push(id);
        let _ = write!(sql, " AND decision_id > ${}", params.len());
    }
    params.push(&limit);
    let _ = write!(sql, " ORDER BY decision_id LIMIT ${}", params.len());
    let rows = client
        .query(&sql, &params)
        .await
        .map_err(|e| format!("archive scan of decisions: {e}"))?;
    rows.iter().map(read).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insert_binds_every_column_as_one_array() {
        let sql = insert_sql();
        for n in 1..=COLUMNS.len() {
            assert!(sql.contains(&format!("${n}::")), "{sql}");
        }
        assert!(!sql.contains("$11"), "{sql}");
        assert!(sql.ends_with("ON CONFLICT DO NOTHING"), "{sql}");
    }

    #[test]
    fn times_convert_at_millisecond_precision_and_bounds_clamp() {
        let at = time_of(1_762_000_000_123);
        assert_eq!(
            at.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            1_762_000_000_123
        );
        assert!(time_of(-5) < UNIX_EPOCH);
        assert_eq!(bound_of(i64::MIN), time_of(-1));
        assert_eq!(bound_of(i64::MAX), time_of(end_of_range_ms()));
    }
}
