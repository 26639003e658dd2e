//! The Redis store: state shared by every replica, one script (one round trip)
//! per ledger operation, exact money as integer minor units. Key schema and
//! memory figures: docs/redis.md.

mod cache;
pub mod clock;
pub mod conn;
mod eviction;
mod history_scan;
mod init;
pub mod keys;
mod ledger_writes;
pub mod outbox;
pub(crate) mod record;
mod replica_wait;
mod reply;
mod review;

pub use conn::{DEFAULT_DECISION_HISTORY_PER_SLOT, RedisSettings, RedisTarget};
pub use init::{InitReport, init_store};

use super::decision_format;
use super::{
    Approval, CancelOutcome, DisputeOutcome, HeldCursor, HeldOrder, InvoiceOutcome, LedgerView,
    LedgerWrite, PaymentOutcome, PaymentRequest, ReleaseOutcome, ReleaseRequest, ReserveOutcome,
    ReserveRequest, RowAnswers, Store, StoreError, StoreHealth, StoredBuyer, UpsertOutcome,
};
use crate::domain::buyer::{BuyerRecord, LimitAdjustment, Rating};
use crate::domain::date::Date;
use crate::domain::decision_record::DecisionRecord;
use crate::domain::exposure::{
    DUNNING_SAMPLE, DueItem, ExposureTotals, Invoice, LedgerSnapshot, PaymentStats, dso_window,
};
use crate::domain::ids::{BuyerId, InvoiceId, OrderId};
use crate::domain::retention::LedgerDay;
use cache::ProfileCache;
use clock::{Estimate, RedisClock};
use conn::Connection;
use keys::{BuyerKeys, KeySchema};
use redis::{Cmd, RedisWrite, Script, ToRedisArgs, Value};
use replica_wait::{Acked, ReplicaWait};
use reply::{at, int, int128, items, status, text};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Open invoices read per HSCAN page by GetBuyerExposure and scoring: enough that
/// most buyers take one page (inside the ledger script), little enough that no
/// page holds Redis up.
const INVOICE_PAGE: usize = 500;

const PRELUDE: &str = include_str!("scripts/prelude.lua");

/// The ledger writes, one Lua function each (see the file's head).
const LEDGER_WRITES: &str = include_str!("scripts/ledger_writes.lua");

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// A script that runs ledger writes: the prelude, the writes, then `body`. The
/// others go without them, so that a check builds no closures it never calls.
fn ledger_script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{LEDGER_WRITES}\n{body}"))
}

struct Scripts {
    check: Script,
    invoice: Script,
    payment: Script,
    ledger_rows: Script,
    cancel: Script,
    dispute: Script,
    buyer: Script,
    ledger: Script,
    release: Script,
    release_order: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            check: script(include_str!("scripts/check.lua")),
            invoice: ledger_script(include_str!("scripts/invoice.lua")),
            payment: ledger_script(include_str!("scripts/payment.lua")),
            ledger_rows: ledger_script(include_str!("scripts/ledger_rows.lua")),
            cancel: script(include_str!("scripts/cancel.lua")),
            dispute: ledger_script(include_str!("scripts/dispute.lua")),
            buyer: script(include_str!("scripts/buyer.lua")),
            ledger: script(include_str!("scripts/ledger.lua")),
            release: script(include_str!("scripts/release.lua")),
            release_order: script(include_str!("scripts/release_order.lua")),
        }
    }
}

/// How a RedisStore is opened.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    pub target: RedisTarget,
    pub settings: RedisSettings,
    /// Prefix of every key, so several deployments (or tests) can share a Redis.
    pub namespace: String,
    /// How long a replica may answer from its cached copy of a buyer profile.
    pub profile_cache_ttl: Duration,
    /// Seeding mode: ledger writes are accepted while the store marker is missing
    /// (decisions still refer). For re-seeding an emptied store; see docs/operations.md.
    pub allow_uninitialised_writes: bool,
}

pub struct RedisStore {
    conn: Connection,
    keys: KeySchema,
    scripts: Scripts,
    cache: ProfileCache,
    allow_uninitialised_writes: bool,
    clock: RedisClock,
    /// Set with `--redis-wait-replicas`: the scripts that reserve or move money
    /// run through it and wait for replicas.
    replica_wait: Option<ReplicaWait>,
    /// Decision records kept per hash slot (`--redis-decision-history`), as
    /// the scripts take it.
    history_cap: String,
    /// With an archive: the slot streams are its outbox.
    outbox: Option<Arc<outbox::RedisOutbox>>,
}

/// Whether a script's call waits for replicas (when the store is set to).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Reads, the pruning ledger read, the best-effort release of a reservation
    /// (losing one overstates exposure: fail closed).
    MasterOnly,
    /// Writes that reserve or move money.
    Replicated,
}

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

/// An optional number as a script argument: the number, or "" when absent (the
/// scripts test for ''; a bare `Option` would drop the argument and shift the rest).
struct OrEmpty(Option<i64>);

impl ToRedisArgs for OrEmpty {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        match self.0 {
            Some(n) => n.write_redis_args(out),
            None => "".write_redis_args(out),
        }
    }
}

/// A script that started after its caller's give-up time: it wrote nothing.
fn too_late() -> StoreError {
    StoreError::Unavailable(
        "redis ran the call after the caller's deadline and wrote nothing".to_owned(),
    )
}

/// Errors every script may answer with instead of doing its work.
fn common_error(head: &str, buyer_id: &BuyerId) -> Option<StoreError> {
    match head {
        "NO_MARKER" => Some(StoreError::Uninitialised),
        "UNKNOWN_BUYER" => Some(StoreError::UnknownBuyer(buyer_id.clone())),
        "OVERFLOW" => Some(StoreError::Overflow),
        "TOO_LATE" => Some(too_late()),
        "ARCHIVE_BACKLOG" => Some(StoreError::ArchiveBacklog),
        _ => None,
    }
}

fn due_items(value: &Value) -> Result<Vec<DueItem>, StoreError> {
    items(value)?
        .chunks(2)
        .map(|pair| {
            let id = text(at(pair, 0)?)?;
            let day = int(at(pair, 1)?)?;
            Ok(DueItem {
                invoice_id: InvoiceId::parse_stored(&id).map_err(|_| {
                    StoreError::Unavailable(format!("stored invoice id {id:?} is invalid"))
                })?,
                due_date: Date::from_days(day as i32),
            })
        })
        .collect()
}

/// Open orders, open invoices and disputed, as three integers from `offset` on.
fn totals_at(values: &[Value], offset: usize) -> Result<ExposureTotals, StoreError> {
    Ok(ExposureTotals {
        open_orders: int(at(values, offset)?)?,
        open_invoices: int(at(values, offset + 1)?)?,
        disputed: int(at(values, offset + 2)?)?,
    })
}

fn snapshot(value: &Value) -> Result<LedgerSnapshot, StoreError> {
    let parts = items(value)?;
    Ok(LedgerSnapshot {
        totals: totals_at(parts, 0)?,
        oldest_due: due_items(at(parts, 3)?)?,
        next_due: due_items(at(parts, 4)?)?.into_iter().next(),
    })
}

fn approval(order_id: &OrderId, rest: &[Value]) -> Result<Approval, StoreError> {
    Ok(Approval {
        order_id: order_id.clone(),
        amount: int(at(rest, 0)?)?,
        remaining: int(at(rest, 1)?)?,
        decision_id: text(at(rest, 2)?)?,
        approved_at_secs: int(at(rest, 3)?)?,
    })
}

/// An open invoice as prelude.lua packs it:
/// amount|open|issue_day|due_day|disputed|paid_day|order_id.
fn invoice_from(id: &str, packed: &str) -> Result<Invoice, StoreError> {
    let corrupt = || StoreError::Unavailable(format!("stored invoice {id:?} is corrupt"));
    let mut parts = packed.splitn(7, '|');
    let mut next_int = || -> Result<i64, StoreError> {
        parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(corrupt)
    };
    let (amount, open, issue, due, disputed) = (
        next_int()?,
        next_int()?,
        next_int()?,
        next_int()?,
        next_int()?,
    );
    let _paid_day = parts.next().ok_or_else(corrupt)?;
    let order = parts.next().ok_or_else(corrupt)?;
    Ok(Invoice {
        id: InvoiceId::parse_stored(id).map_err(|_| corrupt())?,
        order_id: if order.is_empty() {
            None
        } else {
            Some(OrderId::parse_stored(order).map_err(|_| corrupt())?)
        },
        amount,
        open,
        issue_date: Date::from_days(issue as i32),
        due_date: Date::from_days(due as i32),
        disputed: disputed == 1,
    })
}

impl RedisStore {
    pub fn open(options: &RedisOptions) -> Result<RedisStore, StoreError> {
        let conn = Connection::open(&options.target, &options.settings).map_err(unavailable)?;
        Ok(RedisStore {
            conn,
            keys: KeySchema::new(&options.namespace),
            scripts: Scripts::new(),
            cache: ProfileCache::new(options.profile_cache_ttl),
            allow_uninitialised_writes: options.allow_uninitialised_writes,
            clock: RedisClock::default(),
            replica_wait: ReplicaWait::open(&options.target, &options.settings)
                .map_err(unavailable)?,
            history_cap: options.settings.decision_history.max(1).to_string(),
            outbox: options
                .settings
                .outbox
                .map(|(max, idle)| Arc::new(outbox::RedisOutbox::new(max, idle))),
        })
    }

    /// Writes the store markers (see [`init_store`]).
    pub async fn init(&self) -> Result<InitReport, StoreError> {
        init_store(&self.conn, &self.keys).await
    }

    fn write_flag(&self) -> &'static str {
        if self.allow_uninitialised_writes {
            "1"
        } else {
            "0"
        }
    }

    /// Measures Redis's clock against this replica's (every master's, on a
    /// cluster) and keeps the estimate scripts' deadlines are translated with.
    async fn measure_clock(&self) -> Result<Estimate, StoreError> {
        let times = self.conn.master_times().await.map_err(unavailable)?;
        let estimates: Vec<Estimate> = times
            .into_iter()
            .map(|(sent, received, redis_ms)| Estimate::from_round_trip(sent, received, redis_ms))
            .collect();
        let estimate = Estimate::most_conservative(&estimates)
            .ok_or_else(|| StoreError::Unavailable("redis answered TIME with nothing".into()))?;
        // Every script's deadline is set by the slowest master's clock: masters
        // far apart make calls to the others give up early (fail closed).
        let spread = Estimate::spread_ms(&estimates);
        if spread > clock::MAX_MASTER_SPREAD.as_millis() as i64 {
            tracing::warn!(
                spread_ms = spread,
                "redis masters' clocks disagree: calls give up that much early; keep them in step (NTP)"
            );
        }
        self.clock.observe(estimate);
        Ok(estimate)
    }

    /// The script deadline for the call running now: its give-up time on
    /// Redis's clock, or "" when the call has none (store-init, tools).
    async fn deadline_arg(&self) -> Result<OrEmpty, StoreError> {
        let Some(give_up) = super::deadline::current() else {
            return Ok(OrEmpty(None));
        };
        let estimate = match self.clock.fresh() {
            Some(estimate) => estimate,
            None => self.measure_clock().await?,
        };
        Ok(OrEmpty(Some(RedisClock::script_deadline_ms(
            estimate, give_up,
        ))))
    }

    /// Runs a script over the buyer's keys with the call's deadline, the write
    /// flag and the ledger's calendar (today, oldest day kept, first sales day
    /// kept; "" for scripts that need no date) as the first five arguments, then
    /// `args`. A `Replicated` call on a store that waits for replicas is followed
    /// by WAIT, and answers how many acknowledged.
    async fn run(
        &self,
        script: &Script,
        keys: &BuyerKeys,
        flag: &'static str,
        day: Option<LedgerDay>,
        durability: Durability,
        args: impl ToRedisArgs,
    ) -> Result<(Value, Option<Acked>), StoreError> {
        let waiting = match &self.replica_wait {
            Some(wait) if durability == Durability::Replicated => Some(wait),
            _ => None,
        };
        // "w" tells the script that a WAIT follows it (see `touch` in prelude.lua).
        let flag = match (waiting, flag) {
            (None, flag) => flag,
            (Some(_), "1") => "1w",
            (Some(_), _) => "0w",
        };
        let cmd = self.script_cmd(script, keys, flag, day, args).await?;
        match waiting {
            Some(wait) => {
                let (reply, acked) = wait.run(script, &cmd).await.map_err(unavailable)?;
                Ok((reply, Some(acked)))
            }
            None => {
                let reply = self.conn.evalsha(script, &cmd).await.map_err(unavailable)?;
                Ok((reply, None))
            }
        }
    }

    /// Runs a script that decides (check, release): it never bypasses the
    /// marker, even in seeding mode, and waits for replicas when the store does;
    /// the caller tells which answers need the acknowledgement.
    async fn decide(
        &self,
        script: &Script,
        buyer_id: &BuyerId,
        day: LedgerDay,
        args: impl ToRedisArgs,
    ) -> Result<(Value, Option<Acked>), StoreError> {
        let keys = self.keys.buyer(buyer_id);
        self.run(script, &keys, "0", Some(day), Durability::Replicated, args)
            .await
    }

    async fn script_cmd(
        &self,
        script: &Script,
        keys: &BuyerKeys,
        flag: &str,
        day: Option<LedgerDay>,
        args: impl ToRedisArgs,
    ) -> Result<Cmd, StoreError> {
        let deadline = self.deadline_arg().await?;
        let days = |of: fn(&LedgerDay) -> i32| OrEmpty(day.as_ref().map(|d| i64::from(of(d))));
        // Numbers are written straight into the command buffer: no string per argument.
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash())
            .arg(keys.keys.len())
            .arg(&keys.keys)
            .arg(deadline)
            .arg(flag)
            .arg(days(|d| d.today.days()))
            .arg(days(|d| d.oldest_kept.days()))
            .arg(days(|d| d.sales_from.days()))
            .arg(args);
        Ok(cmd)
    }

    /// Runs a ledger script for the buyer and turns the answers every script may
    /// give (no marker, unknown buyer, overflow) into errors.
    async fn write(
        &self,
        script: &Script,
        buyer_id: &BuyerId,
        day: Option<LedgerDay>,
        durability: Durability,
        args: impl ToRedisArgs,
    ) -> Result<Value, StoreError> {
        let keys = self.keys.buyer(buyer_id);
        let (reply, acked) = self
            .run(script, &keys, self.write_flag(), day, durability, args)
            .await?;
        let (head, _) = status(&reply)?;
        if let Some(error) = common_error(&head, buyer_id) {
            return Err(error);
        }
        // Whatever the answer (done, a replay, a refusal read from the ledger),
        // it is given only once the state it was read from is replicated.
        if let Some(acked) = acked {
            acked.required()?;
        }
        Ok(reply)
    }

    async fn write_buyer(
        &self,
        buyer_id: &BuyerId,
        args: impl ToRedisArgs,
    ) -> Result<u64, StoreError> {
        let reply = self
            .write(
                &self.scripts.buyer,
                buyer_id,
                None,
                Durability::Replicated,
                args,
            )
            .await;
        // Whatever the outcome, the next read must see what Redis holds: a lost
        // compare-and-set is retried from a fresh read.
        self.cache.forget(buyer_id);
        let reply = reply?;
        let (head, rest) = status(&reply)?;
        match head.as_str() {
            "DONE" => Ok(int(at(rest, 0)?)? as u64),
            "STALE" => Err(StoreError::StaleBuyer(buyer_id.clone())),
            _ => Err(reply::bad("buyer", &reply)),
        }
    }
}

impl Store for RedisStore {
    const IN_PROCESS: bool = false;

    /// Ready only when every master answers and holds its store marker; the
    /// same round trips refresh the clock estimate scripts' deadlines use.
    async fn health(&self) -> StoreHealth {
        if self.measure_clock().await.is_err() {
            return StoreHealth::Unreachable;
        }
        let Ok(slots) = self.conn.master_slots().await else {
            return StoreHealth::Unreachable;
        };
        // One command per marker, not a pipeline (the markers lie in different
        // slots, and the cluster client refuses a pipeline that crosses slots),
        // all at once so that many masters fit in one probe's time.
        let mut probes = tokio::task::JoinSet::new();
        for slot in slots {
            let (conn, mut exists) = (self.conn.clone(), redis::cmd("EXISTS"));
            exists.arg(&self.keys.markers()[slot]);
            probes.spawn(async move { conn.query(&exists).await });
        }
        let mut health = StoreHealth::Ready;
        while let Some(probe) = probes.join_next().await {
            match probe {
                Ok(Ok(Value::Int(1))) => {}
                Ok(Ok(_)) => health = StoreHealth::Uninitialised,
                Ok(Err(_)) | Err(_) => return StoreHealth::Unreachable,
            }
        }
        // Counting the outbox here keeps the count, and with it the refusals,
        // current while the shipper waits on a failing archive. A count that
        // fails (a slot moving in a resharding) is no reason to stop serving:
        // the markers above said whether Redis can be used; the last count stands.
        if let Err(error) = self.sweep_if_due().await {
            tracing::warn!(%error, "could not count the decision outbox; the last count stands");
        }
        if health == StoreHealth::Ready && self.outbox_full() {
            return StoreHealth::ArchiveBacklog;
        }
        health
    }

    async fn load_buyer(&self, buyer_id: &BuyerId) -> Result<Option<StoredBuyer>, StoreError> {
        if let Some(cached) = self.cache.get(buyer_id) {
            return Ok(Some(cached));
        }
        self.load_buyer_fresh(buyer_id).await
    }

    /// Reads Redis, past the cache: another replica may have changed the buyer
    /// since this one cached it.
    async fn load_buyer_fresh(
        &self,
        buyer_id: &BuyerId,
    ) -> Result<Option<StoredBuyer>, StoreError> {
        let keys = self.keys.buyer(buyer_id);
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(keys.buyer())
            .arg(&["v", "profile", "rating", "adj", "streak", "pv"])
            .cmd("EXISTS")
            .arg(keys.marker());
        let replies = self.conn.pipeline(&pipe).await.map_err(unavailable)?;
        // Seeding mode reads what is there; a decision still finds the marker
        // missing in its own script and refers.
        if int(at(&replies, 1)?)? == 0 && !self.allow_uninitialised_writes {
            return Err(StoreError::Uninitialised);
        }
        let fields = items(at(&replies, 0)?)?;
        if matches!(at(fields, 0)?, Value::Nil) {
            return Ok(None);
        }
        let version = int(at(fields, 0)?)? as u64;
        let profile =
            record::profile_from_json(&text(at(fields, 1)?)?).map_err(StoreError::Unavailable)?;
        let rating = record::rating_from_json(&text(at(fields, 2)?)?, profile.currency)
            .map_err(StoreError::Unavailable)?;
        let adjustment = match at(fields, 3)? {
            Value::Nil => LimitAdjustment::default(),
            adj => LimitAdjustment {
                percent: int(adj)? as u32,
                on_time_streak: int(at(fields, 4)?)? as u32,
            },
        };
        // A buyer written before profile versions existed has none: "0", as
        // buyer.lua reads it.
        let profile_version = match at(fields, 5)? {
            Value::Nil => 0,
            pv => int(pv)? as u64,
        };
        let stored = StoredBuyer {
            record: Arc::new(BuyerRecord {
                profile,
                rating,
                adjustment,
            }),
            version,
            profile_version,
        };
        self.cache.put(buyer_id, stored.clone());
        Ok(Some(stored))
    }

    async fn upsert_buyer(
        &self,
        record: BuyerRecord,
        expected_profile_version: Option<u64>,
    ) -> Result<UpsertOutcome, StoreError> {
        let profile = record::profile_to_json(&record.profile);
        let rating = record::rating_to_json(&record.rating);
        let expected = OrEmpty(expected_profile_version.map(|v| v as i64));
        let version = self
            .write_buyer(&record.profile.id, ("profile", &profile, &rating, expected))
            .await?;
        Ok(UpsertOutcome {
            created: version == 1,
            version,
        })
    }

    async fn store_rating(
        &self,
        buyer_id: &BuyerId,
        rating: Rating,
        expected_profile_version: u64,
    ) -> Result<u64, StoreError> {
        let rating = record::rating_to_json(&rating);
        self.write_buyer(buyer_id, ("rating", &rating, "", expected_profile_version))
            .await
    }

    fn new_decision_id(&self, buyer_id: &BuyerId) -> String {
        review::decision_id_in_slot(self.keys.buyer_slot(buyer_id))
    }

    async fn release_order(
        &self,
        request: ReleaseRequest,
        day: LedgerDay,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.release_held(request, day).await
    }

    async fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        self.find_decision(decision_id).await
    }

    async fn held_orders(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        limit: usize,
    ) -> Result<Vec<HeldOrder>, StoreError> {
        self.list_held(buyer_id, after, limit).await
    }

    async fn recent_decisions(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        self.decisions_between(from_ms, to_ms, limit).await
    }

    async fn outbox_read(&self, max: usize) -> Result<Vec<crate::store::OutboxEntry>, StoreError> {
        self.read_outbox(max).await
    }

    async fn outbox_ack(&self, entries: &[crate::store::OutboxEntry]) -> Result<(), StoreError> {
        self.ack_outbox(entries).await
    }

    async fn outbox_len(&self) -> Result<u64, StoreError> {
        Ok(self.outbox_backlog())
    }

    async fn outbox_housekeeping(&self) -> Result<u64, StoreError> {
        self.prune_idle_consumers(outbox::PRUNE_IDLE).await
    }

    async fn check_and_reserve(
        &self,
        request: ReserveRequest,
        day: LedgerDay,
    ) -> Result<ReserveOutcome, StoreError> {
        let c = &request.conditions;
        let args = (
            request.order_id.as_str(),
            request.amount.minor(),
            request.buyer_version,
            if c.blocked { "1" } else { "0" },
            c.max_total_after,
            OrEmpty(c.max_insurable_after),
            c.earliest_due_allowed.days(),
            request.decision_id(),
            request.reservation_ttl_secs,
            DUNNING_SAMPLE,
        );
        let review = (
            decision_format::inputs_to_json(&request.inputs),
            request.buyer_id.as_str(),
            self.stream_cap(),
            review::HELD_PER_SLOT,
        );
        let (reply, acked) = self
            .decide(&self.scripts.check, &request.buyer_id, day, (args, review))
            .await?;
        let (head, rest) = status(&reply)?;
        // An approval, new or replayed, is answered only once replicated: a new
        // one reserved here; a replay may answer for a reservation another call
        // made and never saw replicated (the script then wrote, so that this
        // WAIT covers it). Anything else reserved nothing and need not wait.
        if let (Some(acked), "RESERVED" | "REPLAY") = (acked, head.as_str()) {
            acked.required()?;
        }
        if matches!(head.as_str(), "RESERVED" | "NOT_RESERVED" | "INVOICED") {
            self.wrote_record(&request.buyer_id);
        }
        Ok(match head.as_str() {
            "RESERVED" => ReserveOutcome::Reserved(snapshot(at(rest, 0)?)?),
            "NOT_RESERVED" => ReserveOutcome::NotReserved(snapshot(at(rest, 0)?)?),
            "REPLAY" => {
                ReserveOutcome::Replay(approval(&request.order_id, rest)?, snapshot(at(rest, 4)?)?)
            }
            "CONFLICT" => ReserveOutcome::Conflict(approval(&request.order_id, rest)?),
            "INVOICED" => ReserveOutcome::Invoiced {
                amount: int(at(rest, 0)?)?,
                invoice_id: InvoiceId::parse_stored(&text(at(rest, 1)?)?)
                    .map_err(|_| reply::bad("check", &reply))?,
                snapshot: snapshot(at(rest, 2)?)?,
            },
            "CANCELLED" => ReserveOutcome::Cancelled,
            "TOO_LATE" => return Err(too_late()),
            "ARCHIVE_BACKLOG" => return Err(StoreError::ArchiveBacklog),
            "STALE" => {
                self.cache.forget(&request.buyer_id);
                ReserveOutcome::StaleBuyer
            }
            "UNKNOWN_BUYER" => {
                self.cache.forget(&request.buyer_id);
                ReserveOutcome::UnknownBuyer
            }
            "NO_MARKER" => {
                self.cache.forget(&request.buyer_id);
                return Err(StoreError::Uninitialised);
            }
            _ => return Err(reply::bad("check", &reply)),
        })
    }

    async fn release_reservation(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        decision_id: &str,
    ) -> Result<i64, StoreError> {
        let reply = self
            .write(
                &self.scripts.release,
                buyer_id,
                None,
                Durability::MasterOnly,
                (order_id.as_str(), decision_id),
            )
            .await?;
        let (_, rest) = status(&reply)?;
        int(at(rest, 0)?)
    }

    async fn cancel_order(
        &self,
        buyer_id: &BuyerId,
        order_id: &OrderId,
        _now_secs: i64,
        day: LedgerDay,
    ) -> Result<CancelOutcome, StoreError> {
        let reply = self
            .write(
                &self.scripts.cancel,
                buyer_id,
                Some(day),
                Durability::Replicated,
                (order_id.as_str(), buyer_id.as_str()),
            )
            .await?;
        let (_, rest) = status(&reply)?;
        Ok(CancelOutcome {
            released: int(at(rest, 0)?)?,
            was_approved: int(at(rest, 1)?)? == 1,
            invoiced: int(at(rest, 2)?)? == 1,
        })
    }

    async fn record_invoice(
        &self,
        buyer_id: &BuyerId,
        invoice: Invoice,
        _now_secs: i64,
        day: LedgerDay,
    ) -> Result<InvoiceOutcome, StoreError> {
        let args = (ledger_writes::invoice_args(&invoice), buyer_id.as_str());
        let reply = self
            .write(
                &self.scripts.invoice,
                buyer_id,
                Some(day),
                Durability::Replicated,
                args,
            )
            .await?;
        ledger_writes::invoice_answer(&reply, buyer_id, &invoice)
    }

    async fn record_payment(
        &self,
        buyer_id: &BuyerId,
        payment: PaymentRequest,
        _now_secs: i64,
        day: LedgerDay,
    ) -> Result<PaymentOutcome, StoreError> {
        let reply = self
            .write(
                &self.scripts.payment,
                buyer_id,
                Some(day),
                Durability::Replicated,
                ledger_writes::payment_args(&payment),
            )
            .await?;
        ledger_writes::payment_answer(&reply, buyer_id, &payment)
    }

    async fn record_ledger_rows(
        &self,
        buyer_id: &BuyerId,
        rows: &[Vec<LedgerWrite>],
        _now_secs: i64,
        day: LedgerDay,
    ) -> Result<Vec<RowAnswers>, StoreError> {
        self.write_ledger_rows(buyer_id, rows, day).await
    }

    async fn set_dispute(
        &self,
        buyer_id: &BuyerId,
        invoice_id: &InvoiceId,
        disputed: bool,
        _now_secs: i64,
        day: LedgerDay,
    ) -> Result<DisputeOutcome, StoreError> {
        let reply = self
            .write(
                &self.scripts.dispute,
                buyer_id,
                Some(day),
                Durability::Replicated,
                ledger_writes::dispute_args(invoice_id, disputed),
            )
            .await?;
        ledger_writes::dispute_answer(&reply, buyer_id, invoice_id)
    }

    async fn ledger(
        &self,
        buyer_id: &BuyerId,
        _now_secs: i64,
        day: LedgerDay,
    ) -> Result<LedgerView, StoreError> {
        let window = dso_window(day.today);
        let args = (window.start().days(), window.end().days(), INVOICE_PAGE);
        let reply = self
            .write(
                &self.scripts.ledger,
                buyer_id,
                Some(day),
                Durability::MasterOnly,
                args,
            )
            .await?;
        let (_, rest) = status(&reply)?;
        let t = items(at(rest, 0)?)?;
        let weighted = int128(at(t, 6)?)? * 1_000_000 + int128(at(t, 7)?)?;
        let first_invoice = match at(t, 9)? {
            Value::Nil => None,
            day => Some(Date::from_days(int(day)? as i32)),
        };
        let stats = PaymentStats {
            payments: int(at(t, 3)?)? as u32,
            late_payments: int(at(t, 4)?)? as u32,
            paid_minor: int(at(t, 5)?)?,
            weighted_days_late: weighted,
            early_payments: int(at(t, 8)?)? as u32,
            first_invoice,
        };
        let mut sales_in_window = 0i64;
        for sales in items(at(rest, 1)?)? {
            sales_in_window = sales_in_window.saturating_add(int(sales)?);
        }
        // HSCAN may return an invoice twice (the hash was resized between pages):
        // keyed by id, each counts once.
        let mut open = HashMap::new();
        let mut add_page = |page: &[Value]| -> Result<(), StoreError> {
            for pair in page.chunks(2) {
                let id = text(at(pair, 0)?)?;
                let invoice = invoice_from(&id, &text(at(pair, 1)?)?)?;
                open.insert(id, invoice);
            }
            Ok(())
        };
        add_page(items(at(rest, 3)?)?)?;
        let mut cursor = text(at(rest, 2)?)?;
        let key = self.keys.buyer(buyer_id);
        while cursor != "0" {
            let mut cmd = redis::cmd("HSCAN");
            cmd.arg(key.open_invoices())
                .arg(&cursor)
                .arg("COUNT")
                .arg(INVOICE_PAGE);
            let page = self.conn.query(&cmd).await.map_err(unavailable)?;
            let page = items(&page)?;
            add_page(items(at(page, 1)?)?)?;
            cursor = text(at(page, 0)?)?;
        }
        Ok(LedgerView {
            totals: totals_at(t, 0)?,
            open_invoices: open.into_values().collect(),
            stats,
            sales_in_window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPTS: [(&str, &str); 12] = [
        ("prelude.lua", PRELUDE),
        ("ledger_writes.lua", LEDGER_WRITES),
        ("ledger_rows.lua", include_str!("scripts/ledger_rows.lua")),
        ("check.lua", include_str!("scripts/check.lua")),
        ("invoice.lua", include_str!("scripts/invoice.lua")),
        ("payment.lua", include_str!("scripts/payment.lua")),
        ("cancel.lua", include_str!("scripts/cancel.lua")),
        ("dispute.lua", include_str!("scripts/dispute.lua")),
        ("buyer.lua", include_str!("scripts/buyer.lua")),
        ("ledger.lua", include_str!("scripts/ledger.lua")),
        ("release.lua", include_str!("scripts/release.lua")),
        (
            "release_order.lua",
            include_str!("scripts/release_order.lua"),
        ),
    ];

    /// A script is atomic: Redis serves nobody else while it runs. A command that
    /// reads a whole hash or set costs as much as the ledger is long (paid invoices,
    /// payment ids, order records), so one buyer with a long history would stall
    /// every other buyer's decisions. Scripts read single fields (HGET, HMGET of a
    /// bounded list), bounded ranges and HSCAN pages; anything larger is paged from
    /// Rust outside the atomic step.
    #[test]
    fn no_script_reads_a_whole_hash_or_set() {
        for (name, source) in SCRIPTS {
            let code: String = source
                .lines()
                .map(|line| line.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n")
                .to_uppercase();
            for command in [
                "HGETALL", "HKEYS", "HVALS", "SMEMBERS", "'KEYS'", "SUNION", "SINTER",
            ] {
                assert!(!code.contains(command), "{name} uses {command}");
            }
            assert!(!code.contains("0, -1"), "{name} reads a whole range");
        }
    }

    #[test]
    fn scripts_prune_the_batch_the_embedded_store_prunes() {
        let line = format!("local PRUNE_BATCH = {}\n", crate::store::PRUNE_BATCH);
        assert!(PRELUDE.contains(&line), "prelude.lua must say {line:?}");
    }
}
