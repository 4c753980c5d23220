//! The job: move the array from a producer to a consumer `rounds` times, every way, at
//! every size asked for, and print one row per way; each round of a way is timed beside
//! a `memcpy` of the same size, in the same round.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use shmbook::alternatives::{Aligned, Way, THROUGHPUT};
use shmbook::measure::{duration_text, make_array, match_text, size_text, warn_if_debug};
use shmbook::record::{Row, Throughput};

use crate::{mapped, redis_way, streams};

// ANCHOR: measure
/// What the producer learned from moving the array one way, round after round.
pub struct Measured<'a> {
    /// The way's time in each round: from the first byte sent until the consumer
    /// said it has them all.
    pub times: Vec<Duration>,
    /// The `memcpy` of the same array in each round, into page-aligned memory.
    pub baselines: Vec<Duration>,
    /// Whether the consumer's checksum matched the producer's in every round.
    pub matched: bool,
    /// Minor page faults in the round that had the fewest, both sides together.
    pub faults: Option<u64>,
    data: &'a [f64],
    target: Aligned,
}

/// One round of a way: its time, whether its checksum matched, its page faults.
pub struct Round {
    pub time: Duration,
    pub matched: bool,
    pub faults: Option<u64>,
}
// ANCHOR_END: measure

impl Round {
    pub fn new(time: Duration, matched: bool, faults: Option<u64>) -> Round {
        Round {
            time,
            matched,
            faults,
        }
    }
}

impl<'a> Measured<'a> {
    pub fn new(data: &'a [f64]) -> Self {
        let target = Aligned::zeroed(data.len()); // every page mapped already
        let (times, baselines, matched, faults) = (vec![], vec![], true, None);
        Measured {
            times,
            baselines,
            matched,
            faults,
            data,
            target,
        }
    }
}

// ANCHOR: interleave
impl Measured<'_> {
    /// Runs one round of the way beside one `memcpy` of the same data: the copy goes
    /// first in even rounds and second in odd ones, so that neither always finds the
    /// caches as the other left them. Nothing else runs in between.
    pub fn round(&mut self, way: impl FnOnce() -> Result<Round>) -> Result<()> {
        let copy_first = self.times.len().is_multiple_of(2);
        let before = copy_first.then(|| self.memcpy());
        let round = way()?;
        let baseline = before.unwrap_or_else(|| self.memcpy());
        self.times.push(round.time);
        self.baselines.push(baseline);
        self.matched &= round.matched;
        // The round with the fewest faults: a stray fault is not the way's cost.
        self.faults = self.faults.into_iter().chain(round.faults).min();
        Ok(())
    }

    /// The baseline: one copy of the array into page-aligned memory, already mapped.
    fn memcpy(&mut self) -> Duration {
        let start = Instant::now();
        self.target.copy_from_slice(self.data);
        std::hint::black_box(&mut self.target);
        start.elapsed()
    }
}
// ANCHOR_END: interleave

impl Measured<'_> {
    /// The recorded row: every round's time, every baseline, the ratios' spread.
    pub fn row(&self, way: Way, size: usize) -> Row {
        let mut row = Row::new(&way.name(), way.label(), size, &self.times, &self.baselines);
        row.matched = self.matched;
        row.faults = self.faults;
        row
    }
}

/// The sizes `--sweep` measures: 4 KiB to 256 MiB, each four times the one before.
pub const SWEEP: [usize; 9] = [
    4 << 10,
    16 << 10,
    64 << 10,
    256 << 10,
    1 << 20,
    4 << 20,
    16 << 20,
    64 << 20,
    256 << 20,
];

/// Rounds for a size when `--rounds` is not given: enough for a median and quartiles,
/// fewer for the largest arrays (2 GiB moved per way at most, 7 rounds at least).
pub fn auto_rounds(size: usize) -> u32 {
    ((2usize << 30) / size).clamp(7, 51) as u32
}

// ANCHOR: throughput
pub fn throughput(
    sizes: &[usize],
    rounds: Option<u32>,
    ways: &[Way],
    redis: Option<&str>,
    progress: bool,
) -> Result<Throughput> {
    let (mut rows, mut all_matched) = (vec![], true);
    for &size in sizes {
        let rounds = rounds.unwrap_or_else(|| auto_rounds(size));
        let data = Aligned::copy_of(&make_array(size / 8)); // page-aligned, like a segment
        println!(
            "moving {} ({} f64) from a producer to a consumer, {rounds} rounds per way, \
             each beside a memcpy",
            size_text(size),
            data.len()
        );
        warn_if_debug(size >= 64 << 20);
        for &way in if ways.is_empty() { THROUGHPUT } else { ways } {
            if let Some(m) = measure(way, &data, rounds, redis, progress)? {
                all_matched &= m.matched;
                rows.push(m.row(way, size));
                print_row(&rows[rows.len() - 1]);
            }
        }
    }
    ensure!(all_matched, "a consumer's checksum differed");
    Ok(Throughput {
        sizes: sizes.to_vec(),
        rows,
    })
}
// ANCHOR_END: throughput

/// One row of the table: the way, whether the checksums matched, the median rate (or
/// the hand-off's median time, where nothing is copied), the median ratio to the
/// `memcpy` of the same rounds with its range, and the page faults.
pub fn print_row(row: &Row) {
    let speed = if row.way == "threads" || row.way == "zerocopy" {
        let median = row.size as f64 / row.gbps.max(1e-12); // ns
        format!(
            "hand-off {}",
            duration_text(Duration::from_nanos(median as u64))
        )
    } else {
        format!("{:.2} GB/s", row.gbps)
    };
    let ratio = row.ratio.map_or_else(String::new, |r| {
        format!(
            "{} × memcpy ({}–{})",
            ratio_text(r.median),
            ratio_text(r.min),
            ratio_text(r.max)
        )
    });
    let faults = row
        .faults
        .map_or_else(String::new, |f| format!("  {f} page faults"));
    println!(
        "{:<24} {}  {speed}  {ratio}{faults}",
        row.label,
        match_text(row.matched)
    );
}

/// A ratio with two significant digits at least: "0.98", "0.021", "1300".
pub fn ratio_text(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 0.1 || r <= 0.0 {
        format!("{r:.2}")
    } else {
        let digits = (1.0 - r.log10().floor()).min(9.0) as usize;
        format!("{r:.digits$}")
    }
}

/// Moves the array one way (saying so on standard error with `progress`). `None` when
/// the way printed a line saying why it did not run.
fn measure<'a>(
    way: Way,
    data: &'a [f64],
    rounds: u32,
    redis: Option<&str>,
    progress: bool,
) -> Result<Option<Measured<'a>>> {
    if progress {
        let size = size_text(std::mem::size_of_val(data));
        eprintln!("[{size}] {} ...", way.name());
    }
    ensure!(!shmbook::cleanup::interrupted(), "interrupted");
    let measured = match way {
        Way::Threads => streams::threads(data, rounds)?,
        Way::ZeroCopy => mapped::zero_copy(data, rounds)?,
        Way::Shm => mapped::shm_reused(data, rounds, 1)?,
        Way::Fresh => mapped::shm_fresh(data, rounds)?,
        Way::File => mapped::file(data, rounds)?,
        Way::Socket => streams::socket(data, rounds, streams::Format::Raw)?,
        Way::Pipe => streams::pipe(data, rounds)?,
        Way::BigPipe => match streams::big_pipe(data, rounds)? {
            Some(measured) => measured,
            None => return not_run(way, "not supported on this system"),
        },
        Way::Bytemuck => streams::socket(data, rounds, streams::Format::Bytemuck)?,
        Way::Postcard => streams::socket(data, rounds, streams::Format::Postcard)?,
        Way::Redis => match redis_way::server(redis)? {
            Some(_) if std::mem::size_of_val(data) > redis_way::MAX_BULK => {
                return not_run(way, redis_way::TOO_LARGE)
            }
            Some(server) => redis_way::throughput(&server, data, rounds)?,
            None => return not_run(way, redis_way::MISSING),
        },
        Way::Spin | Way::Event | Way::Floor => bail!("'{}' is a latency way", way.name()),
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
        Way::Shm | Way::File | Way::ZeroCopy => mapped::consume_reused(way, peer, rounds),
        Way::Fresh => mapped::consume_fresh(peer, rounds),
        Way::Pipe | Way::BigPipe => streams::consume_pipe(rounds),
        Way::Socket => streams::consume_socket(peer, rounds, streams::Format::Raw),
        Way::Bytemuck => streams::consume_socket(peer, rounds, streams::Format::Bytemuck),
        Way::Postcard => streams::consume_socket(peer, rounds, streams::Format::Postcard),
        Way::Redis => redis_way::consume(peer, rounds),
        other => bail!("no consumer for the way '{}'", other.name()),
    }
    .with_context(|| format!("consumer of '{}'", way.name()))
}
