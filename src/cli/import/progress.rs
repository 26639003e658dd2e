//! Progress on stderr while rows are applied: a bar on a terminal (indicatif),
//! a plain line every few seconds otherwise (a job's log), and each rejected
//! row as it is rejected. The summary goes to stdout at the end.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the plain line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: AtomicU64,
    rejected: AtomicU64,
    started: Instant,
    finished: AtomicBool,
}

impl Progress {
    pub fn start(total: u64) -> Arc<Progress> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} rows ({percent}%), {elapsed} elapsed, {eta} left",
            ) {
                bar.set_style(style);
            }
            bar
        });
        let progress = Arc::new(Progress {
            bar,
            total,
            done: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            started: Instant::now(),
            finished: AtomicBool::new(false),
        });
        if progress.bar.is_none() {
            let weak = Arc::downgrade(&progress);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PLAIN_EVERY).await;
                    match weak.upgrade() {
                        Some(p) if !p.finished.load(Ordering::Relaxed) => p.plain_line(),
                        _ => break,
                    }
                }
            });
        }
        progress
    }

    fn plain_line(&self) {
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        eprintln!(
            "import: {done} of {} rows, {} rejected, {:.0} rows/s",
            self.total,
            self.rejected.load(Ordering::Relaxed),
            done as f64 / secs
        );
    }

    pub fn row_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// A rejected row's message, above the bar when there is one.
    pub fn rejected(&self, message: &str) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("rejected: {message}")),
            None => eprintln!("rejected: {message}"),
        }
    }

    pub fn finish(&self) {
        self.finished.store(true, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
