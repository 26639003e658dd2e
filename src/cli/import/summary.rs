//! Counting rows as they are read and settled, and the summary printed at the end.

use super::columns::Kind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
struct Counts {
    read: AtomicU64,
    applied: AtomicU64,
    unchanged: AtomicU64,
    rejected: AtomicU64,
}

/// Per kind: rows read, applied (wrote something), unchanged (already
/// recorded), rejected.
#[derive(Default)]
pub struct Tally([Counts; 3]);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Applied,
    Unchanged,
    Rejected,
}

fn index(kind: Kind) -> usize {
    match kind {
        Kind::Buyers => 0,
        Kind::Invoices => 1,
        Kind::Payments => 2,
    }
}

impl Tally {
    pub fn read(&self, kind: Kind, rows: u64) {
        self.0[index(kind)].read.fetch_add(rows, Ordering::Relaxed);
    }

    pub fn settle(&self, kind: Kind, settled: Settled) {
        let counts = &self.0[index(kind)];
        let counter = match settled {
            Settled::Applied => &counts.applied,
            Settled::Unchanged => &counts.unchanged,
            Settled::Rejected => &counts.rejected,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn row(&self, kind: Kind) -> [u64; 4] {
        let c = &self.0[index(kind)];
        [&c.read, &c.applied, &c.unchanged, &c.rejected].map(|n| n.load(Ordering::Relaxed))
    }

    fn totals(&self) -> [u64; 4] {
        Kind::ALL.iter().fold([0; 4], |mut sum, kind| {
            for (s, n) in sum.iter_mut().zip(self.row(*kind)) {
                *s += n;
            }
            sum
        })
    }

    pub fn rejected(&self) -> u64 {
        self.totals()[3]
    }

    /// Rows that are in the store now (applied or already there).
    pub fn loaded(&self) -> u64 {
        let [_, applied, unchanged, _] = self.totals();
        applied + unchanged
    }

    /// Rows read that were never tried (the import stopped early).
    pub fn not_attempted(&self) -> u64 {
        let [read, applied, unchanged, rejected] = self.totals();
        read.saturating_sub(applied + unchanged + rejected)
    }

    /// The summary table, its first line naming where the rows went.
    pub fn render(&self, destination: &str, elapsed: Duration, notes: &[String]) -> String {
        let [read, applied, unchanged, ..] = self.totals();
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            ((applied + unchanged) as f64 / secs).round() as u64
        } else {
            0
        };
        let mut out = format!(
            "import into {destination}: {read} rows in {secs:.1} s ({rate} rows/s)\n\
             {:<10}{:>10}{:>10}{:>10}{:>10}\n",
            "", "read", "applied", "unchanged", "rejected"
        );
        let line = |name: &str, [r, a, u, x]: [u64; 4]| {
            format!("{name:<10}{r:>10}{a:>10}{u:>10}{x:>10}\n")
        };
        for kind in Kind::ALL {
            out.push_str(&line(kind.name(), self.row(kind)));
        }
        out.push_str(&line("total", self.totals()));
        for note in notes {
            out.push_str(note);
            out.push('\n');
        }
        out
    }
}
