//! Chapter "Segments": create, open, own and remove named shared-memory segments.
//!
//! One module per section of the chapter; each subcommand shows one point. The helper
//! roles (`_answer`, `_open`, `_own`) are this same program started again by the
//! creator, as the chapter explains.

mod create;
mod errors;
mod interrupt;
mod killed_owner;
mod leftovers;
mod naming;
mod no_name;
mod ownership;
mod perms;
mod squat;
mod threads;
mod unlink_early;

use clap::{Parser, Subcommand};
use shmbook::cli;

/// Named shared-memory segments: create, open, own, remove.
#[derive(Parser)]
#[command(name = "segments", bin_name = shmbook::bin_name!("segments"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a segment; a helper process reads it and answers
    Create {
        /// The segment's size in bytes (512 B to 1 GiB)
        #[arg(long, default_value = "4096", value_parser = cli::bytes(2 * create::FIELD, 1 << 30))]
        size: usize,
    },
    /// The creator's drop removes a segment, an opener's drop does not
    Ownership,
    /// Create a segment and exit without removing it
    Leave {
        #[arg(long, value_parser = cli::segment_name)]
        name: String,
        /// Only shm_open it, as a creator killed before sizing it would
        #[arg(long = "unsized")]
        never_sized: bool,
    },
    /// Say whether a segment exists, its size and mode
    Exists(cli::NamedSegment),
    /// Remove a segment someone left behind
    Remove(cli::NamedSegment),
    /// Open an existing segment and show the text at its start
    Open(cli::NamedSegment),
    /// An owner killed before its drop leaks its segment
    KilledOwner,
    /// Keep a segment for N seconds, or until Ctrl-C
    Hold {
        /// The segment's name (default: a new unique one)
        #[arg(long, value_parser = cli::segment_name)]
        name: Option<String>,
        /// How long to hold it (0 to 3600)
        #[arg(long, default_value = "60", value_parser = cli::count(0, 3600))]
        seconds: u64,
    },
    /// Random and chosen names, and what a collision does
    Names,
    /// Find a segment through a file link
    Flink,
    /// Open a segment before its creator sized it, and the fix
    Unsized,
    /// Share one mapping with threads although Shmem is not Send
    Threads,
    /// Who may open a segment
    Perms,
    /// Another user takes a predictable name first: the attack and the defence
    Squat,
    /// Remove the name once every process has the segment open: nothing can leak
    UnlinkEarly,
    /// Memory with no name: memfd_create, its descriptor passed over a Unix socket
    NoName,
    /// (helper) open NAME, read the creator's greeting, answer
    #[command(name = "_answer", hide = true)]
    Answer(cli::Segment),
    /// (helper) open NAME once, or retry while it is not there or not sized yet
    #[command(name = "_open", hide = true)]
    OpenEarly {
        #[arg(value_parser = cli::segment_name)]
        name: String,
        #[arg(long)]
        retry: bool,
    },
    /// (helper) create NAME as its owner and wait to be killed
    #[command(name = "_own", hide = true)]
    Own(cli::Segment),
    /// (helper) as another user if root, create NAME first, mode 0666; read what comes
    #[command(name = "_squat", hide = true)]
    Squatter(cli::Segment),
    /// (helper) receive a descriptor on standard input (a Unix socket), answer through it
    #[command(name = "_no_name", hide = true)]
    NoNameHelper,
    /// (helper) create NAME, remove the name once the parent has it open, wait to be killed
    #[command(name = "_unlink_early", hide = true)]
    UnlinkEarlyOwner(cli::Segment),
}

fn main() -> std::process::ExitCode {
    cli::run("segments", |cli: Cli| match cli.command {
        Command::Create { size } => create::run(size),
        Command::Answer(cli::Segment { name }) => create::answer(&name),
        Command::Ownership => ownership::run(),
        Command::Leave {
            name,
            never_sized: true,
        } => leftovers::leave_unsized(&name),
        Command::Leave { name, .. } => leftovers::leave(&name),
        Command::Exists(cli::NamedSegment { name }) => leftovers::exists(&name),
        Command::Remove(cli::NamedSegment { name }) => leftovers::remove(&name),
        Command::Open(cli::NamedSegment { name }) => leftovers::open(&name),
        Command::KilledOwner => killed_owner::run(),
        Command::Own(cli::Segment { name }) => killed_owner::own_until_killed(&name),
        Command::Hold { name, seconds } => interrupt::hold(name, seconds),
        Command::Names => naming::run(),
        Command::Flink => naming::flink(),
        Command::Unsized => errors::open_before_sized(),
        Command::OpenEarly { name, retry } => errors::open_early(&name, retry),
        Command::Threads => threads::run(),
        Command::Perms => perms::run(),
        Command::Squat => squat::run(),
        Command::Squatter(cli::Segment { name }) => squat::squatter(&name),
        Command::NoName => no_name::run(),
        Command::NoNameHelper => no_name::receive(),
        Command::UnlinkEarly => unlink_early::run(),
        Command::UnlinkEarlyOwner(cli::Segment { name }) => unlink_early::owner(&name),
    })
}
