//! Wiring: config → telemetry → store → server → shutdown (see `app`).

use clap::Parser;
use creditgate::config::{Command, Config};
use creditgate::{app, telemetry};
use std::process::ExitCode;

// Built without transparent huge pages (Cargo.toml, feature no_thp): a huge-page
// fault zeroes 2 MiB in one step, inside whichever request touched it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    // Subcommands for people at a terminal: their output is the answer, so no
    // service log lines are mixed into it.
    let cli = match &config.command {
        Some(Command::Import(args)) => Some(creditgate::cli::import::run(args, &config).await),
        Some(Command::Explain(args)) => Some(creditgate::cli::explain::run(args).await),
        Some(Command::DemoData(args)) => Some(creditgate::cli::demo_data::run(args)),
        Some(Command::ArchiveMigrate(args)) => {
            Some(creditgate::cli::archive_migrate::run(args).await)
        }
        Some(Command::Whatif(args)) => Some(creditgate::cli::whatif::run(args).await),
        _ => None,
    };
    if let Some(result) = cli {
        return match result {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("creditgate: {message}");
                ExitCode::from(1)
            }
        };
    }
    // Held to the end of main: dropping it writes out the last lines.
    let _log_writer = match telemetry::init(config.log_format, &config.log) {
        Ok(guard) => guard,
        Err(message) => {
            eprintln!("creditgate: {message}");
            return ExitCode::from(2);
        }
    };
    let result = match config.command {
        Some(Command::StoreInit) => app::store_init(config).await,
        // A CLI answer, not a service stopping: no "creditgate stopped" log line.
        Some(Command::Token(ref command)) => {
            return match command.run() {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("creditgate: {message}");
                    ExitCode::from(2)
                }
            };
        }
        None => app::serve(config).await,
        // Answered above, before telemetry.
        Some(
            Command::Import(_)
            | Command::Explain(_)
            | Command::DemoData(_)
            | Command::ArchiveMigrate(_)
            | Command::Whatif(_),
        ) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "creditgate stopped");
            eprintln!("creditgate: {message}");
            ExitCode::from(1)
        }
    }
}
