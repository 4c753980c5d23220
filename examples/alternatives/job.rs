//! The job: move the array from a producer to a consumer `rounds` times, every way,
//! and print one row per way against the `memcpy` of the same run.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use shmbook::alternatives::{Way, THROUGHPUT};
use shmbook::measure::{
    duration_text, make_array, match_text, rate_text, size_text, warn_if_debug,
};

use crate::{mapped, redis_way, streams};

// ANCHOR: measure
/// What the producer learned from moving the array `rounds` times one way.
#[derive(Clone, Copy)]
pub struct Measured {
    /// The fastest round: from the first byte sent until the consumer said it has them all.
    pub best: Duration,
    /// Whether the consumer's checksum matched the producer's in every round.
    pub matched: bool,
    /// Minor page faults in the round that had the fewest, producer and consumer together.
    pub faults: u64,
}
// ANCHOR_END: measure

impl Measured {
    /// Before the first round: no time yet, nothing mismatched.
    pub fn new() -> Self {
        let (best, matched, faults) = (Duration::MAX, true, u64::MAX);
        Measured {
            best,
            matched,
            faults,
        }
    }

    /// One more round: its time, whether its checksum matched, its page faults. The
    /// fewest faults are kept, like the fastest time: a stray fault in one round (a
    /// stack or an allocator growing while the machine is busy) is not the way's cost.
    pub fn round(&mut self, time: Duration, matched: bool, faults: u64) {
        self.best = self.best.min(time);
        self.matched &= matched;
        self.faults = self.faults.min(faults);
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
