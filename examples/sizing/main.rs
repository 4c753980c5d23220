//! Chapter "Sizing": how big a segment is, how much memory it takes, and what happens
//! at and beyond its end. One module per section of the chapter; the helper roles
//! (`_resident`, `_beyond`, `_full`, `_container`, `_follow`) are this program started again.

mod ahead;
mod beyond;
mod container;
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
        #[arg(long, default_value = "256", value_parser = shmbook::sizing::pages)]
        pages: usize,
    },
    /// The last page is usable to its end; the page after it is SIGBUS
    Beyond,
    /// A full /dev/shm: SIGBUS on first touch, and failing early (Linux)
    Full,
    /// A container's 64 MiB /dev/shm and a 100 MiB segment (Linux, root)
    Container,
    /// shared_memory cannot grow a segment: move to a bigger one
    Grow,
    /// Linux: map room ahead, then grow the segment under it with ftruncate
    Ahead,
    /// (helper) map NAME, count resident pages while reading it
    #[command(name = "_resident", hide = true)]
    Resident(cli::Segment),
    /// (helper) map one page more than NAME holds and touch it
    #[command(name = "_beyond", hide = true)]
    BeyondHelper(cli::Segment),
    /// (helper) fill a private 16-page /dev/shm
    #[command(name = "_full", hide = true)]
    FullHelper,
    /// (helper) fill a 100 MiB segment in a private 64 MiB /dev/shm
    #[command(name = "_container", hide = true)]
    ContainerHelper,
    /// (helper) open NAME, wait for the note that it moved, follow it
    #[command(name = "_follow", hide = true)]
    Follow(cli::Segment),
}

fn main() -> std::process::ExitCode {
    cli::run("sizing", |cli: Cli| match cli.command {
        Command::Table => table::run(),
        Command::Zero => zero::run(),
        Command::Opener => zero::opener(),
        Command::Lazy { pages } => lazy::run(pages),
        Command::Beyond => beyond::run(),
        Command::Full => full::run(),
        Command::Container => container::run(),
        Command::Grow => grow::run(),
        Command::Ahead => ahead::run(),
        Command::Resident(cli::Segment { name }) => lazy::resident(&name),
        Command::BeyondHelper(cli::Segment { name }) => beyond::helper(&name),
        Command::FullHelper => full::helper(),
        Command::ContainerHelper => container::helper(),
        Command::Follow(cli::Segment { name }) => grow::follow(&name),
    })
}
