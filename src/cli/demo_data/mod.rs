//! `creditgate demo-data --buyers N`: a realistic, deterministic book in the import
//! formats (buyers.csv, invoices.csv, payments.csv).
//!
//! The same `--seed`, `--buyers` and `--today` write byte-identical files, so
//! tests and benchmarks can name a book by its arguments. Buyer k is drawn from
//! its own stream of the seed: the first 100 buyers of `--buyers 1000` are the
//! buyers of `--buyers 100`. Paid parts: payments.csv covers invoices paid in full
//! exactly; a part-paid invoice's paid part is left to the importer's derivation
//! (see `book`).

mod book;
mod csv;
mod rng;

use crate::domain::date::Date;
use crate::domain::policy::Policy;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use csv::{BUYERS_HEADER, INVOICES_HEADER, PAYMENTS_HEADER};

/// More buyers than a demo or a benchmark needs is a typing error, not a book.
pub const MAX_BUYERS: u32 = 1_000_000;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct DemoDataArgs {
    /// How many buyers (0 to 1 000 000).
    #[arg(long)]
    pub buyers: u32,
    /// Directory to write buyers.csv, invoices.csv and payments.csv into
    /// (created if missing; existing files are replaced).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Seed of the generator: the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The business date the book is dated around (YYYY-MM-DD): invoice and
    /// payment dates are relative to it. Default: today (UTC). Give it to get
    /// byte-identical files on any day.
    #[arg(long, value_parser = parse_date)]
    pub today: Option<Date>,
}

fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text).map_err(|e| format!("{text:?} {e}"))
}

fn utc_today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Date::from_unix_secs(secs)
}

pub fn run(args: &DemoDataArgs) -> Result<String, String> {
    if args.buyers > MAX_BUYERS {
        return Err(format!(
            "--buyers {} is more than {MAX_BUYERS}",
            args.buyers
        ));
    }
    let today = args.today.unwrap_or_else(utc_today);
    // The shipped policy's currency size divisors: a JPY buyer is sized as a
    // EUR buyer of the same size would be.
    let book = book::generate(args.buyers, args.seed, today, &Policy::default());
    std::fs::create_dir_all(&args.out).map_err(|e| format!("--out {}: {e}", args.out.display()))?;
    let files = [
        (
            "buyers.csv",
            BUYERS_HEADER,
            book.buyers.iter().map(csv::buyer).collect::<Vec<_>>(),
        ),
        (
            "invoices.csv",
            INVOICES_HEADER,
            book.invoices.iter().map(csv::invoice).collect(),
        ),
        (
            "payments.csv",
            PAYMENTS_HEADER,
            book.payments.iter().map(csv::payment).collect(),
        ),
    ];
    let mut summary = String::new();
    for (name, header, lines) in &files {
        let path = args.out.join(name);
        write_file(&path, header, lines)?;
        summary.push_str(&format!(
            "  {:<40} {:>8} rows\n",
            path.display(),
            lines.len()
        ));
    }
    let open = book
        .invoices
        .iter()
        .filter(|i| !i.open_amount.is_zero())
        .count();
    let disputed = book.invoices.iter().filter(|i| i.disputed).count();
    let insolvent = book
        .buyers
        .iter()
        .filter(|b| b.rating.as_ref().is_some_and(|r| r.insolvency))
        .count();
    Ok(format!(
        "demo book: {} buyers ({insolvent} insolvent), {} invoices ({open} open, {disputed} disputed), {} payments; seed {}, dated around {today}\n{summary}",
        book.buyers.len(),
        book.invoices.len(),
        book.payments.len(),
        args.seed,
    ))
}

fn write_file(path: &Path, header: &str, lines: &[String]) -> Result<(), String> {
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(failed)?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "{header}").map_err(failed)?;
    for line in lines {
        out.write_all(line.as_bytes()).map_err(failed)?;
    }
    out.flush().map_err(failed)
}
