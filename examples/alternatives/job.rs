//! The job: move the array from a producer to a consumer `rounds` times, every way,
//! and print one row per way against the `memcpy` of the same run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::ValueEnum;
use shmbook::cleanup::Tracked;
use shmbook::helper::Helper;
use shmbook::measure::{
    duration_text, make_array, match_text, rate_text, size_text, warn_if_debug,
};

use crate::{mapped, redis_way, streams};

/// The ways, by the names `--ways` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum Way {
    Memcpy,
    Threads,
    Shm,
    Fresh,
    File,
    Socket,
    Pipe,
    BigPipe,
    Postcard,
    Redis,
    Spin,
    Event,
}

/// The ways `throughput` runs, in this order.
pub const THROUGHPUT: &[Way] = &[
    Way::Memcpy,
    Way::Threads,
    Way::Shm,
    Way::Fresh,
    Way::File,
    Way::Socket,
    Way::Pipe,
    Way::BigPipe,
    Way::Postcard,
    Way::Redis,
];

/// The ways `latency` runs, in this order.
pub const LATENCY: &[Way] = &[Way::Spin, Way::Event, Way::Pipe, Way::Socket, Way::Redis];

/// The largest array: the producer, the `memcpy` and a consumer each hold one.
pub const MAX_SIZE: usize = 1 << 30;

impl Way {
    /// The name `--ways` and the helpers' command lines use.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }

    /// The label column of the tables.
    pub fn label(self) -> &'static str {
        match self {
            Way::Memcpy => "memcpy in one process",
            Way::Threads => "threads, Vec moved",
            Way::Shm => "shared memory, reused",
            Way::Fresh => "shared memory, fresh",
            Way::File => "file mapping (memmap2)",
            Way::Socket => "Unix socket",
            Way::Pipe => "pipe",
            Way::BigPipe => "pipe, 1 MiB buffer",
            Way::Postcard => "postcard over a socket",
            Way::Redis => "Redis, RPUSH + BLPOP",
            Way::Spin => "shared memory, spinning",
            Way::Event => "shared memory, Event",
        }
    }
}

/// A `--ways` value: one of `allowed`, for `#[arg(value_parser = way_in(THROUGHPUT))]`.
pub fn way_in(allowed: &'static [Way]) -> impl TypedValueParser<Value = Way> {
    PossibleValuesParser::new(allowed.iter().filter_map(|w| w.to_possible_value()))
        .try_map(|name| Way::from_str(&name, false))
}

/// `--size`: 4 KiB to [`MAX_SIZE`], a whole number of `f64`.
pub fn array_size(word: &str) -> Result<usize, String> {
    let size = shmbook::cli::bytes(4096, MAX_SIZE)(word)?;
    if !size.is_multiple_of(8) {
        return Err(format!("{word} is not a multiple of 8 bytes (one f64)"));
    }
    Ok(size)
}

/// `--redis 127.0.0.1:6379`: a Redis server's address.
pub fn address(word: &str) -> Result<String, String> {
    match word.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(word.to_string())
        }
        _ => Err(format!(
            "'{word}' is not an address (write e.g. 127.0.0.1:6379)"
        )),
    }
}

// ANCHOR: measure
/// What the producer learned from moving the array `rounds` times one way.
#[derive(Clone, Copy)]
pub struct Measured {
    /// The fastest round: from the first byte sent until the consumer said it has them all.
    pub best: Duration,
    /// Whether the consumer's checksum matched the producer's in every round.
    pub matched: bool,
    /// Minor page faults in the last round, producer and consumer together.
    pub faults: u64,
}
// ANCHOR_END: measure

impl Measured {
    /// Before the first round: no time yet, nothing mismatched.
    pub fn new() -> Self {
        let (best, matched, faults) = (Duration::MAX, true, 0);
        Measured {
            best,
            matched,
            faults,
        }
    }

    /// One more round: its time, whether its checksum matched, its page faults.
    pub fn round(&mut self, time: Duration, matched: bool, faults: u64) {
        self.best = self.best.min(time);
        self.matched &= matched;
        self.faults = faults;
    }
}

// ANCHOR: throughput
pub fn throughput(size: usize, rounds: u32, ways: &[Way], redis: Option<&str>) -> Result<()> {
    let data = make_array(size / 8);
    println!(
        "moving {} ({} f64) from a producer to a consumer, best of {rounds} rounds",
        size_text(size),
        data.len()
    );
    warn_if_debug(size >= 64 << 20);
    // Every ratio is against the memcpy measured in this run, on this machine.
    let memcpy = mapped::memcpy(&data, rounds)?;
    let mut all_matched = true;
    for &way in if ways.is_empty() { THROUGHPUT } else { ways } {
        if let Some(m) = measure(way, &data, rounds, memcpy, redis)? {
            all_matched &= m.matched;
            print_row(way, size, m, memcpy);
        }
    }
    ensure!(
        all_matched,
        "a consumer's checksum differed from the producer's"
    );
    Ok(())
}
// ANCHOR_END: throughput

/// One row of the table: the way, whether the checksums matched, the rate, the ratio
/// to `memcpy` and the page faults.
fn print_row(way: Way, size: usize, m: Measured, memcpy: Measured) {
    println!(
        "{:<24} {}  {}  {:.2} × memcpy  {} page faults",
        way.label(),
        match_text(m.matched),
        rate_text(size, m.best),
        memcpy.best.as_secs_f64() / m.best.as_secs_f64(),
        m.faults
    );
}

/// Moves the array one way. `None` when the way printed its own row (threads) or a
/// line saying why it did not run.
fn measure(
    way: Way,
    data: &[f64],
    rounds: u32,
    memcpy: Measured,
    redis: Option<&str>,
) -> Result<Option<Measured>> {
    let measured = match way {
        Way::Memcpy => memcpy,
        Way::Threads => {
            let (handoff, matched) = streams::threads(data, rounds)?;
            println!(
                "{:<24} {}  no copy: hand-off in {}",
                way.label(),
                match_text(matched),
                duration_text(handoff)
            );
            ensure!(matched, "the consumer thread's checksum differed");
            return Ok(None);
        }
        Way::Shm => mapped::shm_reused(data, rounds)?,
        Way::Fresh => mapped::shm_fresh(data, rounds)?,
        Way::File => mapped::file(data, rounds)?,
        Way::Socket => streams::socket(data, rounds, false)?,
        Way::Pipe => streams::pipe(data, rounds)?,
        Way::BigPipe => match streams::big_pipe(data, rounds)? {
            Some(measured) => measured,
            None => return not_run(way, "not supported on this system"),
        },
        Way::Postcard => streams::socket(data, rounds, true)?,
        Way::Redis => match redis_way::server(redis)? {
            Some(server) => redis_way::throughput(&server, data, rounds)?,
            None => return not_run(way, redis_way::MISSING),
        },
        Way::Spin | Way::Event => bail!("'{}' is a latency way", way.name()),
    };
    Ok(Some(measured))
}

/// The row of a way that could not run here, and why.
pub fn not_run<T>(way: Way, why: &str) -> Result<Option<T>> {
    println!("{:<24} {why}", way.label());
    Ok(None)
}

/// Starts the consumer of `way` as a helper process; `peer` says where to find the
/// producer (a segment name, a path, an address). With `piped`, the helper's standard
/// input and output are pipes to this process. The consumer learns the array's size
/// from what it attaches to, never from its command line.
pub fn spawn_consumer(way: Way, peer: &str, rounds: u32, piped: bool) -> Result<Helper> {
    spawn_helper("_consume", way, peer, ("--rounds", rounds), piped)
}

/// Starts the helper `ROLE WAY PEER FLAG COUNT` (`_consume` or `_echo`).
pub fn spawn_helper(
    role: &str,
    way: Way,
    peer: &str,
    (flag, count): (&str, u32),
    piped: bool,
) -> Result<Helper> {
    let (name, count) = (way.name(), count.to_string());
    let args = [name.as_str(), peer, flag, &count];
    if piped {
        Helper::spawn_piped(role, &args)
    } else {
        Helper::spawn(role, &args)
    }
}

/// The consumer end of one way, run as a helper process.
pub fn consume(way: Way, peer: &str, rounds: u32) -> Result<()> {
    match way {
        Way::Shm | Way::File => mapped::consume_reused(way, peer, rounds),
        Way::Fresh => mapped::consume_fresh(peer, rounds),
        Way::Pipe | Way::BigPipe => streams::consume_pipe(rounds),
        Way::Socket => streams::consume_socket(peer, rounds, false),
        Way::Postcard => streams::consume_socket(peer, rounds, true),
        Way::Redis => redis_way::consume(peer, rounds),
        other => bail!("no consumer for the way '{}'", other.name()),
    }
    .with_context(|| format!("consumer of '{}'", way.name()))
}

/// The checksum and page-fault count a consumer reports: two little-endian words.
pub fn two_words(report: &[u8]) -> Result<[u64; 2]> {
    let Ok(b) = <[u8; 16]>::try_from(report) else {
        bail!("a report of {} bytes, expected 16", report.len());
    };
    let (sum, faults) = b.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    Ok([word(sum), word(faults)])
}

/// Waits for `ready()` by spinning: no sleep, so the wake-up costs nothing but the
/// cache line. After 100 µs it also yields the core between checks, so that on a busy
/// machine the other process gets to run; after `shmbook::PROCESS_TIMEOUT` it fails.
pub fn spin_until(what: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    loop {
        for _ in 0..1024 {
            if ready() {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let waited = start.elapsed();
        if waited > shmbook::PROCESS_TIMEOUT {
            bail!(
                "timed out after {} s waiting for {what}",
                shmbook::PROCESS_TIMEOUT.as_secs()
            );
        }
        if waited > Duration::from_micros(100) {
            std::thread::yield_now();
        }
    }
}

/// Creates `shmbook-alt-PID-N.EXT` in the temporary directory through `create`, and
/// registers it for removal once it exists (see `shmbook::cleanup::file`). A name a
/// leftover holds is skipped, never removed.
pub fn temp_file<T>(
    ext: &str,
    create: impl Fn(&Path) -> std::io::Result<T>,
) -> Result<(Tracked<T>, PathBuf)> {
    use std::io::ErrorKind::{AddrInUse, AlreadyExists};
    let dir = std::env::temp_dir();
    for n in 0..100 {
        let path = dir.join(format!("shmbook-alt-{}-{n}.{ext}", std::process::id()));
        match shmbook::cleanup::file(&path, || create(&path)) {
            Ok(made) => return Ok((made, path)),
            Err(e) if matches!(e.kind(), AlreadyExists | AddrInUse) => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    bail!("100 names in {} are taken already", dir.display())
}
