//! Chapter "Semaphores versus mutexes": the seeds' shared counter, every way of
//! synchronizing it, measured. Two helper processes each add 1 to one counter in a
//! shared segment N times; for each variant the parent prints the final count, the
//! additions lost and the time from "go" until both helpers were done.
mod count;
mod measure;
mod variants;

use clap::{Parser, Subcommand};
use shmbook::cli;

use variants::Variant;

/// Two processes add to one shared counter: every way to synchronize it, timed.
#[derive(Parser)]
#[command(
    name = "semaphores_counter",
    bin_name = shmbook::bin_name!("semaphores_counter")
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time every variant (or one), each in fresh helper processes
    Run {
        /// Additions per process (1 to 1000000000)
        #[arg(long, default_value = "1000000", value_parser = cli::count(1, measure::MAX_N))]
        n: u64,
        /// The seeds' N: 50000000 additions per process
        #[arg(long, conflicts_with = "n")]
        seeds: bool,
        /// Run only this variant
        #[arg(long, value_enum)]
        variant: Option<Variant>,
        /// Helper processes adding at once: 2, or 1 to time each variant alone
        #[arg(long, default_value = "2", value_parser = clap::value_parser!(u32).range(1..=2))]
        processes: u32,
        /// Print one JSON object (every variant's count and seconds) instead of the table
        #[arg(long)]
        json: bool,
    },
    /// (helper) attach to NAME and add the way its header says
    #[command(name = "_count", hide = true)]
    Count {
        #[arg(value_parser = cli::segment_name)]
        name: String,
        /// Which end time this helper records (0 or 1)
        #[arg(value_parser = clap::value_parser!(u32).range(0..=1))]
        slot: u32,
    },
}

/// The seeds' number of additions per process.
const SEEDS_N: u64 = 50_000_000;

fn main() -> std::process::ExitCode {
    cli::run("semaphores_counter", |cli: Cli| match cli.command {
        Command::Run {
            n,
            seeds,
            variant,
            processes,
            json,
        } => measure::run(if seeds { SEEDS_N } else { n }, variant, processes, json),
        Command::Count { name, slot } => count::count(&name, slot as usize),
    })
}
