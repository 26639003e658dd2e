//! `creditgate demo-data --buyers N`: a realistic, deterministic book in the import
//! formats.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct DemoDataArgs {
    /// How many buyers.
    #[arg(long)]
    pub buyers: u32,
    /// Directory to write buyers.csv, invoices.csv and payments.csv into.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Seed of the generator: the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(_args: &DemoDataArgs) -> Result<String, String> {
    Err("demo-data: not built yet".to_owned())
}
