//! The same job done every way: move a large array of `f64` from a producer to a
//! consumer, and a small message there and back, timed side by side in one run.
//!
//! `throughput` moves the array; `latency` bounces 8 bytes; `isolation` shows what
//! separate processes give that threads do not. Redis runs for real: the example
//! starts its own `redis-server` on a free loopback port unless `--redis HOST:PORT`
//! names one. The MPI counterpart is its own program: `cargo run -q -p alternatives-mpi`.

mod isolation;
mod latency;
mod mapped;
mod redis_way;
mod streams;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use shmbook::cli::{self, Bytes, FromArg, Usage};
use shmbook::helper::Helper;
use shmbook::measure::{
    duration_text, make_array, match_text, rate_text, size_text, warn_if_debug,
};

const USAGE: Usage = Usage {
    program: "alternatives",
    about: "move an array and bounce a small message every way: shared memory, pipes, sockets, serialization, files, threads, Redis",
    commands: &[
        (
            "throughput [--size BYTES] [--rounds N] [--ways LIST] [--redis ADDR]",
            "move an array producer -> consumer every way; GB/s against memcpy",
        ),
        (
            "latency [--n N] [--ways LIST] [--redis ADDR]",
            "round trips of an 8-byte message every way",
        ),
        (
            "isolation",
            "a crash in a thread, and a crash in another process",
        ),
        ("_consume", ""),
        ("_echo", ""),
        ("_crash", ""),
    ],
};

fn main() -> std::process::ExitCode {
    cli::main(&USAGE, |command, mut args| match command {
        "throughput" => {
            let size: Bytes = args.value_or("--size", Bytes(4 << 20))?;
            let rounds: u32 = args.value_or("--rounds", 3)?;
            let ways: Ways = args.value_or("--ways", Ways(THROUGHPUT.to_vec()))?;
            let redis: Option<Addr> = args.value("--redis")?;
            if size.0 < 4096 || !size.0.is_multiple_of(8) {
                return Err(args
                    .invalid("--size must be a multiple of 8 bytes, at least 4096")
                    .into());
            }
            if rounds == 0 {
                return Err(args.invalid("--rounds must be at least 1").into());
            }
            ways.only(&args, THROUGHPUT)?;
            args.finish()?;
            throughput(size.0, rounds, &ways.0, redis)
        }
        "latency" => {
            let n: u32 = args.value_or("--n", 200)?;
            let ways: Ways = args.value_or("--ways", Ways(LATENCY.to_vec()))?;
            let redis: Option<Addr> = args.value("--redis")?;
            if n == 0 {
                return Err(args.invalid("--n must be at least 1").into());
            }
            ways.only(&args, LATENCY)?;
            args.finish()?;
            latency::run(n, &ways.0, redis)
        }
        "isolation" => {
            args.finish()?;
            isolation::run()
        }
        // Helper roles: the consumer (or echo) end of one way, or a process that crashes.
        "_consume" => {
            let way: Way = args.positional("way")?;
            let Peer(peer) = args.positional("peer")?;
            let size: Bytes = args.required("--size")?;
            let rounds: u32 = args.required("--rounds")?;
            args.finish()?;
            consume(way, &peer, size.0, rounds)
        }
        "_echo" => {
            let way: Way = args.positional("way")?;
            let Peer(peer) = args.positional("peer")?;
            let n: u32 = args.required("--n")?;
            args.finish()?;
            latency::echo(way, &peer, n)
        }
        _ => {
            args.finish()?;
            isolation::crash()
        }
    })
}

/// The ways, by the names `--ways` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

const NAMES: &[(&str, Way)] = &[
    ("memcpy", Way::Memcpy),
    ("threads", Way::Threads),
    ("shm", Way::Shm),
    ("fresh", Way::Fresh),
    ("file", Way::File),
    ("socket", Way::Socket),
    ("pipe", Way::Pipe),
    ("bigpipe", Way::BigPipe),
    ("postcard", Way::Postcard),
    ("redis", Way::Redis),
    ("spin", Way::Spin),
    ("event", Way::Event),
];

/// The ways `throughput` runs, in this order.
const THROUGHPUT: &[Way] = &[
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
const LATENCY: &[Way] = &[Way::Spin, Way::Event, Way::Pipe, Way::Socket, Way::Redis];

impl Way {
    pub fn name(self) -> &'static str {
        NAMES.iter().find(|(_, w)| *w == self).unwrap().0
    }
}

impl FromArg for Way {
    const WHAT: &'static str = "a way";
    fn from_arg(word: &str) -> Result<Self, String> {
        NAMES
            .iter()
            .find(|(n, _)| *n == word)
            .map(|(_, w)| *w)
            .ok_or_else(|| format!("'{word}' is not a way"))
    }
}

/// `--ways shm,pipe,redis`: a comma-separated list of ways.
#[derive(Clone, Debug)]
struct Ways(Vec<Way>);

impl FromArg for Ways {
    const WHAT: &'static str = "a list of ways";
    fn from_arg(word: &str) -> Result<Self, String> {
        let ways = word
            .split(',')
            .map(Way::from_arg)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{e} (write e.g. shm,pipe,redis)"))?;
        Ok(Ways(ways))
    }
}

impl Ways {
    /// Checks that every way is one this subcommand knows.
    fn only(&self, args: &cli::Args, allowed: &[Way]) -> Result<(), cli::UsageError> {
        match self.0.iter().find(|w| !allowed.contains(w)) {
            None => Ok(()),
            Some(w) => {
                let names: Vec<_> = allowed.iter().map(|w| w.name()).collect();
                Err(args.invalid(format!(
                    "--ways: '{}' is not one of {}",
                    w.name(),
                    names.join(",")
                )))
            }
        }
    }
}

/// Where a helper finds the producer: a segment name, a path, an address.
struct Peer(String);

impl FromArg for Peer {
    const WHAT: &'static str = "a segment name, path or address";
    fn from_arg(word: &str) -> Result<Self, String> {
        Ok(Peer(word.to_string()))
    }
}

/// The checksum and page-fault count a consumer reports: two little-endian words.
pub fn two_words(report: &[u8]) -> Result<[u64; 2]> {
    let Ok(b) = <[u8; 16]>::try_from(report) else {
        bail!("a report of {} bytes, expected 16", report.len());
    };
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    Ok([word(0), word(8)])
}

/// `--redis 127.0.0.1:6379`: a Redis server's address.
#[derive(Clone, Debug)]
pub struct Addr(pub String);

impl FromArg for Addr {
    const WHAT: &'static str = "an address HOST:PORT";
    fn from_arg(word: &str) -> Result<Self, String> {
        match word.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Addr(word.to_string()))
            }
            _ => Err(format!(
                "'{word}' is not an address (write e.g. 127.0.0.1:6379)"
            )),
        }
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

/// The label column of the tables.
pub fn label(way: Way) -> &'static str {
    match way {
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

// ANCHOR: throughput
fn throughput(size: usize, rounds: u32, ways: &[Way], redis: Option<Addr>) -> Result<()> {
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
    for &way in ways {
        let measured = match way {
            Way::Memcpy => Some(memcpy),
            Way::Threads => {
                let (handoff, matched) = streams::threads(&data, rounds)?;
                all_matched &= matched;
                println!(
                    "{:<24} {}  no copy: hand-off in {}",
                    label(way),
                    match_text(matched),
                    duration_text(handoff)
                );
                None
            }
            Way::Shm => Some(mapped::shm_reused(&data, rounds)?),
            Way::Fresh => Some(mapped::shm_fresh(&data, rounds)?),
            Way::File => Some(mapped::file(&data, rounds)?),
            Way::Socket => Some(streams::socket(&data, rounds, false)?),
            Way::Pipe => Some(streams::pipe(&data, rounds)?),
            Way::BigPipe => match streams::big_pipe(&data, rounds)? {
                Some(measured) => Some(measured),
                None => {
                    println!("{:<24} not supported on this system", label(way));
                    None
                }
            },
            Way::Postcard => Some(streams::socket(&data, rounds, true)?),
            Way::Redis => match redis_way::server(redis.as_ref())? {
                Some(server) => Some(redis_way::throughput(&server, &data, rounds)?),
                None => {
                    println!("{:<24} {}", label(way), redis_way::MISSING);
                    None
                }
            },
            Way::Spin | Way::Event => unreachable!("checked by Ways::only"),
        };
        if let Some(m) = measured {
            all_matched &= m.matched;
            println!(
                "{:<24} {}  {}  {:.2} × memcpy  {} page faults",
                label(way),
                match_text(m.matched),
                rate_text(size, m.best),
                memcpy.best.as_secs_f64() / m.best.as_secs_f64(),
                m.faults
            );
        }
    }
    if !all_matched {
        bail!("a consumer's checksum differed from the producer's");
    }
    Ok(())
}
// ANCHOR_END: throughput

/// Starts the consumer of `way` as a helper process; `peer` says where to find the
/// producer (a segment name, a path, an address). With `piped`, the helper's standard
/// input and output are pipes to this process.
pub fn spawn_consumer(
    way: Way,
    peer: &str,
    bytes: usize,
    rounds: u32,
    piped: bool,
) -> Result<Helper> {
    let (bytes, rounds) = (bytes.to_string(), rounds.to_string());
    let args = [way.name(), peer, "--size", &bytes, "--rounds", &rounds];
    if piped {
        Helper::spawn_piped("_consume", &args)
    } else {
        Helper::spawn("_consume", &args)
    }
}

/// The consumer end of one way, run as a helper process.
fn consume(way: Way, peer: &str, size: usize, rounds: u32) -> Result<()> {
    match way {
        Way::Shm | Way::File => mapped::consume_reused(way, peer, size, rounds),
        Way::Fresh => mapped::consume_fresh(peer, size, rounds),
        Way::Pipe => streams::consume_pipe(size, rounds),
        Way::Socket => streams::consume_socket(peer, size, rounds, false),
        Way::Postcard => streams::consume_socket(peer, size, rounds, true),
        Way::Redis => redis_way::consume(peer, size, rounds),
        other => bail!("no consumer for the way '{}'", other.name()),
    }
    .with_context(|| format!("consumer of '{}'", way.name()))
}
