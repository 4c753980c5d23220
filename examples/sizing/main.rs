//! Chapter "Sizing": how big a segment is, how much memory it takes, and what happens
//! at and beyond its end. One module per section of the chapter; the helper roles
//! (`_resident`, `_beyond`, `_full`, `_follow`) are this program started again.

mod beyond;
mod full;
mod grow;
mod lazy;
mod table;
mod zero;

use clap::{Parser, Subcommand};
use shmbook::cli;

/// Segment sizes, pages, lazy memory, SIGBUS and a full /dev/shm.
#[derive(Parser)]
#[command(name = "sizing", bin_name = shmbook::bin_name!("sizing"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Requested size, len(), pages and memory reserved for 1, 4096, 4097, 20000 bytes
    Table,
    /// A segment of size 0 is an error
    Zero,
    /// An opener gets the creator's size, whatever it asks
    Opener,
    /// Memory is taken only as pages are touched (Linux)
    Lazy {
        /// The segment's size in pages, 64 to 65536; a quarter of them is touched, and
        /// must fit in the free space of /dev/shm
        #[arg(long, default_value = "256", value_parser = lazy::pages)]
        pages: usize,
    },
    /// The last page is usable to its end; the page after it is SIGBUS
    Beyond,
    /// A full /dev/shm: SIGBUS on first touch, and failing early (Linux)
    Full,
    /// A segment cannot grow in place: move to a bigger one
    Grow,
    /// (helper) map NAME, count resident pages while reading it
    #[command(name = "_resident", hide = true)]
    Resident {
        #[arg(value_parser = cli::segment_name)]
        name: String,
    },
    /// (helper) map one page more than NAME holds and touch it
    #[command(name = "_beyond", hide = true)]
    BeyondHelper {
        #[arg(value_parser = cli::segment_name)]
        name: String,
    },
    /// (helper) fill a private 16-page /dev/shm
    #[command(name = "_full", hide = true)]
    FullHelper,
    /// (helper) open NAME, wait for the note that it moved, follow it
    #[command(name = "_follow", hide = true)]
    Follow {
        #[arg(value_parser = cli::segment_name)]
        name: String,
    },
}

fn main() -> std::process::ExitCode {
    cli::run("sizing", |cli: Cli| match cli.command {
        Command::Table => table::run(),
        Command::Zero => zero::run(),
        Command::Opener => zero::opener(),
        Command::Lazy { pages } => lazy::run(pages),
        Command::Beyond => beyond::run(),
        Command::Full => full::run(),
        Command::Grow => grow::run(),
        Command::Resident { name } => lazy::resident(&name),
        Command::BeyondHelper { name } => beyond::helper(&name),
        Command::FullHelper => full::helper(),
        Command::Follow { name } => grow::follow(&name),
    })
}
