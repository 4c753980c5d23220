//! The Alternatives chapter's iceoryx2 program: the same array and the same 8-byte
//! round trip as the `alternatives` example, moved by iceoryx2's publish–subscribe
//! with loans, each measured against a baseline timed in the same round (a `memcpy`
//! between page-aligned buffers; two threads bouncing one cache line).
//!
//! The consumer and the echo are this program run again with a hidden role. Each run
//! is an iceoryx2 domain of its own (`domain`), removed at the end. Ctrl-C, `SIGTERM`
//! and `SIGHUP` end every loop at its next turn, so that the run still ends that way;
//! the domain of a run that was killed is removed by the next run.
mod domain;
mod latency;
mod report;
mod throughput;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use iceoryx2::prelude::*;

/// Move an array and bounce an 8-byte message with iceoryx2 (zero-copy IPC).
#[derive(Parser)]
#[command(
    name = "alternatives-iceoryx2",
    bin_name = "cargo run -q -p alternatives-iceoryx2 --"
)]
struct Options {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Move the array to another process, copied into a loan and produced in one
    Throughput {
        /// Array sizes in bytes, comma-separated, multiples of 8 (4 KiB to 1 GiB)
        #[arg(long, value_delimiter = ',', default_value = "4KiB,1MiB", value_parser = throughput::array_size)]
        sizes: Vec<usize>,
        /// The sweep: 4 KiB, 64 KiB, 1 MiB, 4 MiB, 16 MiB, 64 MiB and 256 MiB
        #[arg(long, conflicts_with = "sizes")]
        sweep: bool,
        /// Timed rounds per size (1 to 1000)
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rounds: u32,
        /// Print the figures as one JSON object instead of the table
        #[arg(long)]
        json: bool,
    },
    /// Round trips of an 8-byte message, spinning on both sides; p50, p99, p99.9
    Latency {
        /// Round trips (100 to 10000000)
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(100..=10_000_000))]
        n: u32,
        /// Print the figures as one JSON object instead of the table
        #[arg(long)]
        json: bool,
    },
    /// (helper) the consumer of run RUN's array
    #[command(name = "_consume", hide = true)]
    Consume { run: u32 },
    /// (helper) the echo of run RUN's round trips
    #[command(name = "_echo", hide = true)]
    Echo { run: u32 },
}

fn main() -> ExitCode {
    // iceoryx2 logs warnings (no config file: defaults used) that are not the lesson.
    set_log_level_from_env_or(LogLevel::Error);
    report::started();
    if let Err(e) = on_signals() {
        eprintln!("alternatives-iceoryx2: warning: cannot clean up on Ctrl-C ({e})");
    }
    let options = match Options::try_parse() {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let producer = matches!(
        options.command,
        Command::Throughput { .. } | Command::Latency { .. }
    );
    if producer {
        domain::remove_dead();
    }
    let result = match options.command {
        Command::Throughput {
            sizes,
            sweep,
            rounds,
            json,
        } => throughput::run(
            if sweep { &throughput::SWEEP } else { &sizes },
            rounds,
            json,
        ),
        Command::Latency { n, json } => latency::run(n, json),
        Command::Consume { run } => throughput::consume(run),
        Command::Echo { run } => latency::echo(run),
    };
    // Every node of the run is gone by now: its helper was reaped, its own dropped.
    if producer {
        if let Err(e) = domain::remove(std::process::id()) {
            eprintln!("alternatives-iceoryx2: warning: {e:#}");
        }
    }
    if let Some(signal) = SIGNAL.get().and_then(|s| s.caught()) {
        eprintln!("alternatives-iceoryx2: interrupted; iceoryx2's shared memory removed");
        let _ = signal_hook::low_level::emulate_default_handler(signal);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The signals that end a run: one flag per signal, set inside the handler.
struct Signals([(i32, Arc<AtomicBool>); 3]);

impl Signals {
    fn caught(&self) -> Option<i32> {
        self.0
            .iter()
            .find(|(_, f)| f.load(Ordering::Relaxed))
            .map(|(s, _)| *s)
    }
}

static SIGNAL: OnceLock<Signals> = OnceLock::new();

fn on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let signals = SIGNAL.get_or_init(|| {
        Signals([SIGINT, SIGTERM, SIGHUP].map(|s| (s, Arc::new(AtomicBool::new(false)))))
    });
    for (signal, flag) in &signals.0 {
        signal_hook::flag::register(*signal, Arc::clone(flag))?;
    }
    Ok(())
}

/// Fails once a signal asked the run to end; every loop calls it.
fn go_on() -> Result<()> {
    match SIGNAL.get().and_then(|s| s.caught()) {
        Some(_) => bail!("interrupted"),
        None => Ok(()),
    }
}

/// Spins until `ready` says yes; after 100 µs it also yields the core between checks,
/// so that on a busy machine the other process gets to run. Fails after
/// `PROCESS_TIMEOUT` or on a signal.
fn spin_until<T>(what: &str, mut ready: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let start = Instant::now();
    loop {
        for _ in 0..256 {
            if let Some(v) = ready()? {
                return Ok(v);
            }
            std::hint::spin_loop();
        }
        go_on()?;
        let waited = start.elapsed();
        if waited > shmbook::PROCESS_TIMEOUT {
            bail!("no {what} within {:?}", shmbook::PROCESS_TIMEOUT);
        }
        if waited > Duration::from_micros(100) {
            std::thread::yield_now();
        }
    }
}

/// A node of run `run`'s iceoryx2 domain.
fn node(run: u32) -> Result<Node<ipc::Service>> {
    NodeBuilder::new()
        .config(&domain::config(run)?)
        .signal_handling_mode(SignalHandlingMode::Disabled) // ours, above
        .create::<ipc::Service>()
        .context("creating an iceoryx2 node")
}

/// A service name of run `run`: `shmbook/RUN/WHAT`.
fn service_name(run: u32, what: &str) -> Result<ServiceName> {
    ServiceName::new(&format!("shmbook/{run}/{what}")).context("naming an iceoryx2 service")
}

/// Starts this program again as `role` for run `run` (a `shmbook::process::Child`:
/// killed when dropped, and on Linux when this process dies).
fn helper(role: &str, run: u32) -> Result<shmbook::process::Child> {
    let exe = std::env::current_exe().context("finding this program")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args([role, &run.to_string()]);
    shmbook::process::Child::spawn(&mut cmd).with_context(|| format!("starting {role}"))
}

/// How long a helper gets to finish after its last message.
const HELPER_EXIT: Duration = Duration::from_secs(10);
