//! `creditgate import FILE...`: buyers and open items from the ERP, into a running
//! server or straight into Redis.
//!
//! **Files.** CSV with a header row, or JSON Lines with the columns' proto3 JSON
//! names (`openAmount`; the snake_case names are accepted too). Each file holds
//! one kind, told by its header (which must name exactly the kind's columns, in
//! any order) or by its first object's fields; see [`columns`] for the three
//! column lists. An empty cell, a JSON null or a missing field is an absent field.
//! Cells are trimmed; a UTF-8 byte order mark is skipped.
//!
//! **Two sinks, one row model.** Every row becomes the generated protobuf request
//! of its RPC ([`rows`]) and is judged by the API's own parsing
//! (`grpc::requests`) and service: through LedgerService on a running server
//! (`--server`, [`sink_server`]), or, when `--redis-url` / `--redis-cluster` is
//! given, through an in-process `CreditService` on the Redis store in seed mode
//! ([`sink_redis`]), as a `--seed-mode` server would. An API refusal becomes
//! "file:line: column N (name): message", the column found from the field the
//! API names.
//!
//! **Currency.** Invoices and payments rows carry none: amounts are in the
//! buyer's currency, taken from the buyers row applied in the same run, else
//! asked once per buyer (a server: GetBuyerExposure, whose credit limit is in
//! it; Redis: the stored profile).
//!
//! **Order.** All buyers before any invoice, all invoices before any payment,
//! whatever the order of the files; one buyer's rows in file and line order;
//! up to `--concurrency` buyers at once.
//!
//! **Invoices.** An invoices row is RecordInvoice (the full `amount`), then, when
//! `open_amount` is below `amount`, a RecordPayment of the paid part that the
//! payments rows of the same invoice do not explain (amount − open_amount − their
//! sum), with payment id `import-paid:<invoice_id>` ([`rows::derived_payment_id`])
//! and paid on the **issue date**: that date is fixed (a re-run on another day
//! derives the same payment, which the ledger answers as a replay), never after
//! today nor before the issue, and never late, so it adds no days beyond terms and
//! does not lower the limit adjustment. Give payments rows for the real dates.
//! Then SetInvoiceDispute when `disputed` is true. An empty `open_amount` means
//! the invoice is wholly open; `0` records it paid in full (include invoices paid
//! within the last 90 days so that DSO, which counts their sales, survives).
//!
//! **A row never half-applies.** Every request of a row is built and validated by
//! the API's parsing before the first is sent, and a paid part dated after today
//! is refused first too. What can still come between two steps of an invoices
//! row is a store or network failure (which stops the import) or a refusal only
//! the ledger can give (the derived payment id used before for another amount:
//! the ERP's open amount changed since an earlier import; send the new payment as
//! a payments row). Then the invoice is recorded and its paid part or dispute is
//! not: the row is reported, and a re-run converges, because RecordInvoice of the
//! same invoice is a replay (`created = false`), the derived payment has a fixed
//! id, amount and date (a replay once recorded), and marking a disputed invoice
//! disputed again changes nothing.
//!
//! **Counting.** Applied: the row wrote something. Unchanged: the API answered
//! that it was already recorded (`created = false`). Buyers: Redis mode compares
//! the stored profile with the row's (as the service does before writing); a
//! server's UpsertBuyer does not say, so there every accepted buyer counts as
//! applied (the server writes nothing for an equal profile). A dispute flag set
//! again does not make a row applied. Exit status 1 when any row was rejected or
//! the import stopped; the summary goes to stdout, progress (a bar on a
//! terminal, a plain line every 5 s otherwise) and each rejected row to stderr.
//! A file that cannot be read or whose kind cannot be told stops the import
//! before anything is written; so does a failure nothing else would get past
//! (server unreachable, token refused, Redis down): the rows not tried are
//! counted, and a re-run of the same files picks them up.
//!
//! **Re-seed** (`--redis-url` / `--redis-cluster`, docs/operations.md "Store
//! loss"): writes while the store marker is missing, so Redis stays
//! EXPOSURE_UNKNOWN; `--complete` writes the markers (as `store-init`) once every
//! row is in and none was rejected, and refuses otherwise.

mod apply;
pub mod columns;
mod formats;
mod progress;
pub mod rows;
mod sink;
mod sink_redis;
mod sink_server;
mod summary;

use crate::store::Store;
use clap::Args;
use sink::Sink;
use std::path::PathBuf;
use std::sync::Arc;
use summary::Tally;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ImportArgs {
    /// CSV (with a header row) or JSON Lines files; the kind of each is told by
    /// its header or fields.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub server: super::client::ServerArgs,
    /// Straight into Redis only: once every row is in and none was rejected,
    /// write the store markers (as `creditgate store-init`), ending EXPOSURE_UNKNOWN.
    #[arg(long)]
    pub complete: bool,
    /// How many buyers are loaded at once (each buyer's rows in order).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
}

/// Returns the summary, or the summary as an error when any row was rejected.
/// `config` carries the global Redis flags (`--redis-url` / `--redis-cluster`, TLS,
/// namespace) for a straight-to-Redis re-seed.
pub async fn run(args: &ImportArgs, config: &crate::config::Config) -> Result<String, String> {
    let redis = config.redis_target().is_some();
    if args.complete && !redis {
        return Err(
            "--complete writes Redis's store markers: it needs --redis-url or --redis-cluster \
             (a server's store is completed with `creditgate store-init`)"
                .to_owned(),
        );
    }
    // Every file is read before anything is written: a wrong file stops the
    // import while the store is untouched.
    let mut files = Vec::with_capacity(args.files.len());
    for path in &args.files {
        files.push(formats::read(path)?);
    }
    let tally = Arc::new(Tally::default());
    let plan = apply::Plan::new(files, &tally);
    let concurrency = args.concurrency as usize;
    if redis {
        let sink = Arc::new(sink_redis::RedisSink::open(config)?);
        let report = apply::apply(sink.clone(), plan, tally.clone(), concurrency).await;
        let mut notes = Vec::new();
        let mut failed = failure(&tally, &report, &mut notes);
        if args.complete && failed.is_none() && tally.loaded() == 0 {
            // Markers over an empty store read as "no exposure anywhere": the
            // very thing they exist to prevent.
            failed = Some("--complete refused: no row was loaded".to_owned());
        }
        let complete = match (args.complete, failed.is_some()) {
            (true, true) => {
                notes.push(
                    "--complete refused: not every row is in, so the store markers were not \
                     written and Redis stays EXPOSURE_UNKNOWN; fix the rows and run the same \
                     import again with --complete (rows already in are replays)"
                        .to_owned(),
                );
                false
            }
            (true, false) => {
                let init = sink.store().init().await.map_err(|e| {
                    format!("every row is in, but writing the store markers failed: {e}")
                })?;
                notes.push(if init.written == 0 {
                    format!(
                        "store already initialised (epoch {}): no marker written",
                        init.epoch
                    )
                } else {
                    format!(
                        "store complete: wrote {} of {} slot markers (epoch {}); checks use \
                         the re-seeded ledger now",
                        init.written, init.total, init.epoch
                    )
                });
                true
            }
            (false, _) => false,
        };
        if !complete && sink.store().health().await == crate::store::StoreHealth::Uninitialised {
            notes.push(
                "Redis has no store marker: checks stay REFERRED with EXPOSURE_UNKNOWN until \
                 the import is run with --complete (or `creditgate store-init`) once every row \
                 is in"
                    .to_owned(),
            );
        }
        finish(&*sink, &tally, &report, &notes, failed)
    } else {
        let connection = args.server.connect().await?;
        let sink = Arc::new(sink_server::ServerSink::new(
            connection,
            &args.server.server,
        ));
        let report = apply::apply(sink.clone(), plan, tally.clone(), concurrency).await;
        let mut notes = vec![
            "buyers: a server's UpsertBuyer does not say whether the profile changed; every \
             accepted buyer counts as applied (an equal profile is not rewritten)"
                .to_owned(),
        ];
        let failed = failure(&tally, &report, &mut notes);
        finish(&*sink, &tally, &report, &notes, failed)
    }
}

/// Why the import failed, if it did; adds what was not tried to the notes.
fn failure(tally: &Tally, report: &apply::Report, notes: &mut Vec<String>) -> Option<String> {
    if let Some(fatal) = &report.fatal {
        notes.push(format!(
            "stopped: {fatal}; {} rows were not tried (a re-run of the same files \
             skips what is in as replays)",
            tally.not_attempted()
        ));
        return Some(format!("import stopped: {fatal}"));
    }
    match tally.rejected() {
        0 => None,
        n => Some(format!(
            "{n} row(s) rejected (listed above, each with file, line and column)"
        )),
    }
}

fn finish<S: Sink>(
    sink: &S,
    tally: &Tally,
    report: &apply::Report,
    notes: &[String],
    failed: Option<String>,
) -> Result<String, String> {
    let summary = tally.render(&sink.describe(), report.elapsed, notes);
    match failed {
        None => Ok(summary),
        Some(error) => {
            // The summary belongs on stdout even when the import failed; main
            // prints the error to stderr.
            print!("{summary}");
            Err(error)
        }
    }
}
