//! Chapter "Arrays in shared memory": typed arrays behind a checked header, a ready
//! protocol, a parallel fill by helper processes, a process pool against shared memory,
//! and NumPy on the other side. One module per section of the chapter; the helper roles
//! (`_init`, `_fill`, `_pool`) are this program started again, the Python side is in
//! `examples/python/`.
mod checks;
mod compare;
mod fill;
mod layout;
mod python;
mod race;

use clap::{Parser, Subcommand};
use shmbook::cli;

/// Typed arrays in shared memory: header, ready flag, parallel fill, NumPy.
#[derive(Parser)]
#[command(name = "arrays", bin_name = shmbook::bin_name!("arrays"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// An f64 array behind a 64-byte header, and alignment
    Layout,
    /// Foreign, truncated and mismatched segments are clear errors
    Checks,
    /// An opener reading before the creator finished, then the fix
    Race,
    /// W helper processes fill disjoint ranges with sin(i)
    Fill(Work),
    /// Results through pipes (a process pool) against shared memory
    Compare(Work),
    /// NumPy reads an array this program created
    PythonReads {
        /// Attach the usual way: Python's resource tracker then removes the segment
        #[arg(long, conflicts_with = "close_early")]
        naive: bool,
        /// Close the segment while a NumPy array still views it (Python crashes)
        #[arg(long)]
        close_early: bool,
    },
    /// This program reads an array NumPy created
    PythonWrites {
        /// How many elements (1 to 134217728)
        #[arg(long, default_value = "1000", value_parser = cli::count(1, 1 << 27))]
        n: u64,
    },
    /// (helper) create the array NAME and fill it, publishing it too early with --naive
    #[command(name = "_init", hide = true)]
    Init {
        #[arg(value_parser = cli::segment_name)]
        name: String,
        #[arg(long)]
        naive: bool,
    },
    /// (helper) fill elements START..END of the array NAME with sin(i)
    #[command(name = "_fill", hide = true)]
    FillRange {
        #[arg(value_parser = cli::segment_name)]
        name: String,
        #[arg(value_parser = cli::count(0, MAX_N))]
        start: u64,
        #[arg(value_parser = cli::count(0, MAX_N))]
        end: u64,
    },
    /// (helper) write sin(i) for i in START..END to standard output, as bytes
    #[command(name = "_pool", hide = true)]
    Pool {
        #[arg(value_parser = cli::count(0, MAX_N))]
        start: u64,
        #[arg(value_parser = cli::count(0, MAX_N))]
        end: u64,
    },
}

/// The most elements `fill` and `compare` make (8 GiB of f64).
const MAX_N: u64 = 1 << 30;

#[derive(clap::Args)]
struct Work {
    /// How many elements (1 to 1073741824)
    #[arg(long, default_value = "1000003", value_parser = cli::count(1, MAX_N))]
    n: u64,
    /// How many helper processes (1 to 64)
    #[arg(long, default_value = "4", value_parser = cli::count(1, 64))]
    workers: u64,
}

fn main() -> std::process::ExitCode {
    // Every count is at most MAX_N (2^30) by its parser: `as usize` loses nothing.
    cli::run("arrays", |cli: Cli| match cli.command {
        Command::Layout => layout::run(),
        Command::Checks => checks::run(),
        Command::Race => race::run(),
        Command::Fill(w) => fill::run(w.n as usize, w.workers as usize),
        Command::Compare(w) => compare::run(w.n as usize, w.workers as usize),
        Command::PythonReads { naive, close_early } => python::reads(match (naive, close_early) {
            (true, _) => Some("--naive"),
            (_, true) => Some("--close-early"),
            _ => None,
        }),
        Command::PythonWrites { n } => python::writes(n as usize),
        Command::Init { name, naive } => race::init(&name, naive),
        Command::FillRange { name, start, end } => {
            fill::fill_range(&name, start as usize..end as usize)
        }
        Command::Pool { start, end } => compare::pool_worker(start as usize..end as usize),
    })
}
