//! Chapter "Semaphores versus mutexes": what each kind of lock promises, shown between
//! processes. The helper roles (`_post`, `_hold`, ...) are this program started again
//! by the parent; each checks its segment's length and header before it touches a lock.
mod admit;
mod dead_holder;
mod event;
mod owner;
mod pmutex;
mod rwlock;
#[cfg(target_os = "linux")]
mod starve;
mod timeout_bug;

use clap::{CommandFactory, Parser, Subcommand};
use shmbook::cli;

/// What semaphores, mutexes, read-write locks and events promise between processes.
#[derive(Parser)]
#[command(name = "semaphores", bin_name = shmbook::bin_name!("semaphores"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A semaphore released by a process that never took it
    Release,
    /// An error-checking mutex refuses an unlock by a non-owner (EPERM)
    UnlockOther,
    /// A counting semaphore lets K of W workers in at once
    Admit {
        /// How many workers may be inside at once (1 to 16, at most --workers)
        #[arg(long, default_value = "2", value_parser = clap::value_parser!(u32).range(1..=16))]
        k: u32,
        /// How many workers there are (1 to 16)
        #[arg(long, default_value = "5", value_parser = clap::value_parser!(u32).range(1..=16))]
        workers: u32,
    },
    /// Readers share a read-write lock, a writer is alone
    Rwlock,
    /// Readers that keep coming starve a waiting writer (glibc's default); --prefer-writer fixes it
    Starve {
        /// Set the lock up to prefer a waiting writer (glibc's PREFER_WRITER_NONRECURSIVE_NP)
        #[arg(long)]
        prefer_writer: bool,
    },
    /// Wait for "the data is ready" without polling
    Event,
    /// A holder dies: raw_sync's mutex stays locked, a robust one recovers
    DeadHolder,
    /// raw_sync's timed lock fails with EINVAL, and the workaround
    TimeoutBug,
    /// (helper) post the semaphore in segment NAME without having taken it
    #[command(name = "_post", hide = true)]
    Post(cli::Segment),
    /// (helper) unlock the error-checking mutex in NAME, which another process holds
    #[command(name = "_unlock", hide = true)]
    Unlock(cli::Segment),
    /// (helper) one of `admit`'s workers
    #[command(name = "_worker", hide = true)]
    Worker(cli::Segment),
    /// (helper) a reader of `rwlock`; --late: come while the writer holds the lock
    #[command(name = "_reader", hide = true)]
    Reader {
        #[arg(value_parser = cli::segment_name)]
        name: String,
        #[arg(long)]
        late: bool,
    },
    /// (helper) the writer of `rwlock`
    #[command(name = "_writer", hide = true)]
    Writer(cli::Segment),
    /// (helper) reader ME (0 or 1) of `starve`'s relay
    #[command(name = "_relay", hide = true)]
    Relay {
        #[arg(value_parser = cli::segment_name)]
        name: String,
        #[arg(value_parser = clap::value_parser!(u32).range(0..=1))]
        me: u32,
    },
    /// (helper) the writer of `starve`
    #[command(name = "_starved", hide = true)]
    Starved(cli::Segment),
    /// (helper) wait for `event`'s data
    #[command(name = "_consumer", hide = true)]
    Consumer(cli::Segment),
    /// (helper) take the mutex in NAME and hold it until killed
    #[command(name = "_hold", hide = true)]
    Hold(cli::Segment),
}

fn main() -> std::process::ExitCode {
    cli::run("semaphores", |cli: Cli| match cli.command {
        Command::Release => owner::release(),
        Command::UnlockOther => owner::unlock_other(),
        Command::Admit { k, workers } if k > workers => Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("--k {k} is more than --workers {workers}: give K <= W"),
            )
            .exit(),
        Command::Admit { k, workers } => admit::admit(k, workers),
        Command::Rwlock => rwlock::rwlock(),
        #[cfg(target_os = "linux")]
        Command::Starve { prefer_writer } => starve::starve(prefer_writer),
        #[cfg(target_os = "linux")]
        Command::Relay { name, me } => starve::relay(&name, me),
        #[cfg(target_os = "linux")]
        Command::Starved(cli::Segment { name }) => starve::starved(&name),
        #[cfg(not(target_os = "linux"))]
        Command::Starve { .. } | Command::Relay { .. } | Command::Starved(_) => {
            println!("read-write lock kinds: not supported on this system");
            Ok(())
        }
        Command::Event => event::event(),
        Command::DeadHolder => dead_holder::dead_holder(),
        Command::TimeoutBug => timeout_bug::timeout_bug(),
        Command::Post(cli::Segment { name }) => owner::post_unowned(&name),
        Command::Unlock(cli::Segment { name }) => owner::unlock_unowned(&name),
        Command::Worker(cli::Segment { name }) => admit::worker(&name),
        Command::Reader { name, late } => rwlock::reader(&name, late),
        Command::Writer(cli::Segment { name }) => rwlock::writer(&name),
        Command::Consumer(cli::Segment { name }) => event::consumer(&name),
        Command::Hold(cli::Segment { name }) => dead_holder::hold(&name),
    })
}
