//! creditgate-loadgen: bench-only gRPC load generator for creditgate.
//!
//! Built only with `--features bench`:
//! `cargo build --release --features bench --bin creditgate-loadgen`, then e.g.
//! `creditgate-loadgen --target http://127.0.0.1:50051 --seed-buyers`.
//!
//! Flow: flags → connections → optional buyer seeding (untimed) → warmup +
//! measured window (closed or open loop) → summary (and a JSON line with --json).
//!
//! Exit status: 0 after a run with at least one successful call, 3 after a run
//! without any, 1 when connecting or seeding failed, 2 on bad flags.

mod cli;
mod client;
mod open_loop;
mod report;
mod runner;
mod stats;
mod steal;

use clap::Parser;
use cli::{Args, Settings};
use client::Workload;
use report::Report;
use runner::Window;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Lets every worker be spawned and parked before the first call is due.
const START_DELAY: Duration = Duration::from_millis(20);

fn main() -> ExitCode {
    let settings = match Args::parse().resolve() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("creditgate-loadgen: {message}");
            return ExitCode::from(2);
        }
    };
    // Open loop keeps its schedule, its connections and its answers on one thread
    // (see open_loop): nothing waits for a wakeup from another thread. Closed
    // loop spreads its workers over the cores it was given.
    let runtime = if settings.rate.is_some() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("creditgate-loadgen: tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&settings)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("creditgate-loadgen: {message}");
            ExitCode::from(1)
        }
    }
}

async fn run(settings: &Settings) -> Result<ExitCode, String> {
    let channels =
        client::connect_all(&settings.target, settings.connections, settings.timeout).await?;
    eprintln!(
        "connected: {} HTTP/2 connection(s) to {}",
        channels.len(),
        settings.target
    );

    if settings.seed_buyers {
        let began = std::time::Instant::now();
        client::seed_buyers(
            &channels,
            settings.buyers,
            settings.open_invoices,
            &settings.limit,
            settings.timeout,
        )
        .await?;
        eprintln!(
            "seeded {} buyers (limit EUR {}) in {} ms",
            settings.buyers,
            settings.limit,
            began.elapsed().as_millis()
        );
    }

    let workload = Arc::new(Workload::new(
        settings.rpc,
        settings.buyers,
        settings.amount.clone(),
        settings.distinct_orders,
        settings.timeout,
    ));
    let start = Instant::now() + START_DELAY;
    let window = Window {
        start,
        measure_from: start + settings.warmup,
        end: start + settings.warmup + settings.duration,
    };
    eprintln!(
        "running {} ({} loop): {} s warmup + {} s measured",
        settings.rpc.name(),
        settings.mode(),
        settings.warmup.as_secs(),
        settings.duration.as_secs()
    );
    // Steal during the measured window only, read by a task of its own.
    let steal = tokio::spawn(async move {
        tokio::time::sleep_until(window.measure_from).await;
        let before = steal::total_ticks();
        tokio::time::sleep_until(window.end).await;
        steal::millis_between(before, steal::total_ticks())
    });
    let result = match settings.rate {
        Some(rate) => {
            open_loop::open_loop(&channels, rate, settings.max_outstanding, workload, window).await
        }
        None => runner::closed_loop(&channels, settings.streams, workload, window).await,
    };
    if result.aborted > 0 {
        eprintln!(
            "warning: {} task(s) had not stopped {} s after their last possible answer and were aborted",
            result.aborted,
            runner::STRAGGLER_GRACE.as_secs()
        );
    }

    let stolen_ms = steal.await.ok().flatten();
    let report = Report::new(settings, &result.stats, stolen_ms);
    if settings.json {
        eprint!("{}", report.human());
        println!("{}", report.json());
    } else {
        print!("{}", report.human());
    }
    Ok(if report.stats.ok == 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
