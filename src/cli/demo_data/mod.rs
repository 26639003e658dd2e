//! `creditgate demo-data --buyers N`: a realistic, deterministic book in the import
//! formats (buyers.csv, invoices.csv, payments.csv).
//!
//! ```text
//! creditgate demo-data --buyers 1000 --seed 7 --out demo
//! creditgate import demo/buyers.csv demo/invoices.csv demo/payments.csv \
//!     --server http://127.0.0.1:50051
//! ```
//!
//! The same `--seed`, `--buyers` and `--today` write byte-identical files, so
//! tests and benchmarks can name a book by its arguments. Buyer k is drawn from
//! its own stream of the seed: the first 100 buyers of `--buyers 1000` are the
//! buyers of `--buyers 100`.
//!
//! Paid parts: payments.csv covers the invoices paid in full (open_amount 0),
//! exactly; a part-paid invoice has no payment rows, and its paid part
//! (amount − open_amount) is left to the importer's derivation (see `book`).
//!
//! What is in it: three in four buyers in EUR, the rest in GBP, USD, CHF, SEK,
//! PLN and JPY; tiers core 20% / standard 50% / new 20% / watch 10%; revenue
//! log-uniform 0.5M–500M; limits a share of revenue falling with the grade;
//! most buyers insured at 90% indemnity; 0–12 invoices each over the last ~120
//! days (a tail to 200), on 30/45/60-day terms, most overdue ones paid, most open
//! ones not yet due, some in every aging bucket; some part paid; about 2% disputed
//! and 1% of buyers insolvent.

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
    /// byte-identical files on any day; import such a book into a server whose
    /// today is on or after it (a payment dated after the server's today is
    /// refused) and near it (the aging is the server's).
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
    std::fs::create_dir_all(&args.out).map_err(|e| format!("--out {}: {e}", args.out.display()))?;
    let mut buyers = CsvFile::create(&args.out, "buyers.csv", BUYERS_HEADER)?;
    let mut invoices = CsvFile::create(&args.out, "invoices.csv", INVOICES_HEADER)?;
    let mut payments = CsvFile::create(&args.out, "payments.csv", PAYMENTS_HEADER)?;
    let (mut open, mut disputed, mut insolvent) = (0, 0, 0);
    // The shipped policy's currency size divisors: a JPY buyer is sized as a
    // EUR buyer of the same size would be.
    book::generate_each(args.buyers, args.seed, today, &Policy::default(), |part| {
        for buyer in &part.buyers {
            insolvent += usize::from(buyer.rating.as_ref().is_some_and(|r| r.insolvency));
            buyers.write(&csv::buyer(buyer))?;
        }
        for invoice in &part.invoices {
            open += usize::from(!invoice.open_amount.is_zero());
            disputed += usize::from(invoice.disputed);
            invoices.write(&csv::invoice(invoice))?;
        }
        for payment in &part.payments {
            payments.write(&csv::payment(payment))?;
        }
        Ok(())
    })?;
    let mut summary = format!(
        "demo book: {} buyers ({insolvent} insolvent), {} invoices ({open} open, {disputed} disputed), {} payments; seed {}, dated around {today}\n",
        buyers.rows, invoices.rows, payments.rows, args.seed,
    );
    for file in [buyers, invoices, payments] {
        let (path, rows) = file.finish()?;
        summary.push_str(&format!("  {:<40} {rows:>8} rows\n", path.display()));
    }
    Ok(summary)
}

/// One output file: a header, then rows as they are drawn.
struct CsvFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    rows: usize,
}

impl CsvFile {
    fn create(dir: &Path, name: &str, header: &str) -> Result<CsvFile, String> {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut file = CsvFile {
            path,
            out: std::io::BufWriter::new(file),
            rows: 0,
        };
        file.write_line(&format!("{header}\n"))?;
        Ok(file)
    }

    fn write_line(&mut self, line: &str) -> Result<(), String> {
        self.out
            .write_all(line.as_bytes())
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    fn write(&mut self, line: &str) -> Result<(), String> {
        self.write_line(line)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<(PathBuf, usize), String> {
        self.out
            .flush()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok((self.path, self.rows))
    }
}
