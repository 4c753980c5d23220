//! The Alternatives chapter's MPI program: the Rust counterpart of mpi4py.
//!
//! Two ranks: rank 0 sends the chapter's array to rank 1, which checksums it, at each
//! size asked for; every round is timed beside a `memcpy` of the same array between
//! page-aligned buffers, in the same round, as the `alternatives` example does. Then the
//! two bounce an 8-byte message, every round trip timed into a histogram. MPI programs
//! are started by a launcher — `mpirun -n 2 PROGRAM`, like `mpiexec -n 2 python3
//! script.py` for mpi4py. Started without one (`cargo run -q -p alternatives-mpi`), the
//! program runs `mpirun -n 2` on itself, waits for it (bounded) and passes on its exit
//! status.
mod report;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use hdrhistogram::Histogram;
use mpi::traits::*;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use shmbook::alternatives::{timed_round_trips, Aligned};
use shmbook::measure::{checksum, make_array, warn_if_debug};
use shmbook::process::{describe, Child};
use shmbook::{cli, os, PROCESS_TIMEOUT};

use report::Measured;

/// Move the chapter's array and an 8-byte message between two MPI ranks.
#[derive(Parser)]
#[command(
    name = "alternatives-mpi",
    bin_name = "cargo run -q -p alternatives-mpi --"
)]
struct Options {
    /// The array's size in bytes, a multiple of 8 (4 KiB to 1 GiB); several sizes
    /// comma-separated
    #[arg(long, default_value = "4MiB", value_delimiter = ',', value_parser = array_size)]
    size: Vec<usize>,
    /// The `alternatives` example's sweep instead: 4 KiB to 256 MiB, each 4 times the
    /// one before
    #[arg(long, conflicts_with = "size")]
    sweep: bool,
    /// Timed rounds per size (1 to 1000; default 5, or with --sweep 51 for small
    /// arrays down to 8 for 256 MiB)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: Option<u32>,
    /// Timed round trips of the 8-byte message (1 to 10000000)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    n: u32,
    /// Also write every round's figures and the percentiles, with the machine's
    /// description, as JSON (the format of data/alternatives/)
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

impl Options {
    /// Every size, each with its number of timed rounds (with `--sweep` and no
    /// `--rounds`: 2 GiB moved per size at most, 8 to 51 rounds, as in the example).
    fn plan(&self) -> Vec<(usize, u32)> {
        // The `alternatives` example's sweep: 4 KiB, 16 KiB, … 256 MiB.
        let sweep: Vec<usize> = (0..9).map(|k| (4 << 10) << (2 * k)).collect();
        let sizes = if self.sweep { &sweep } else { &self.size };
        let rounds = |size: usize| match (self.rounds, self.sweep) {
            (Some(r), _) => r,
            (None, true) => ((2usize << 30) / size).clamp(7, 51) as u32,
            (None, false) => 5,
        };
        sizes.iter().map(|&s| (s, rounds(s))).collect()
    }
}

/// `--size`: 4 KiB to 1 GiB, a whole number of `f64` (as in the `alternatives` example).
fn array_size(word: &str) -> Result<usize, String> {
    let size = cli::bytes(4096, 1 << 30)(word)?;
    if !size.is_multiple_of(8) {
        return Err(format!("{word} is not a multiple of 8 bytes (one f64)"));
    }
    Ok(size)
}

fn main() -> ExitCode {
    if launched_by_mpirun() {
        // A rank: the launcher checked the arguments already.
        return match ranks(&Options::parse()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    cli::run("alternatives-mpi", |_: Options| {
        launch(std::env::args_os().skip(1))
    })
}

/// What to do without a launcher to run.
const NO_MPIRUN: &str = "no mpirun on PATH: install MPI (Debian, Ubuntu: apt-get install \
mpich libmpich-dev libclang-dev; macOS: brew install mpich)";

// ANCHOR: launch
/// True inside a process that an MPI launcher started: MPICH's Hydra sets `PMI_RANK`,
/// Open MPI sets `OMPI_COMM_WORLD_RANK`, PMIx-based launchers set `PMIX_RANK`.
fn launched_by_mpirun() -> bool {
    ["PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// Runs `mpirun -n 2 THIS-PROGRAM ARGS` in a process group of its own, for at most
/// `2 × PROCESS_TIMEOUT`; then nothing of the group (mpirun, its proxy, the ranks) is
/// left. A `shmbook::process::Child`: Ctrl-C stops it too.
fn launch(args: impl Iterator<Item = std::ffi::OsString>) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let mpirun = os::find_program("mpirun").context(NO_MPIRUN)?;
    let mut cmd = Command::new(mpirun);
    cmd.args(["-n", "2"])
        .arg(std::env::current_exe().context("finding this program")?)
        .args(args)
        // Open MPI refuses to run as root unless told twice (MPICH ignores these):
        // the same as `mpirun --allow-run-as-root`.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .process_group(0);
    let mut launcher = Child::spawn(&mut cmd).context("starting mpirun")?;
    let group = Pid::from_raw(launcher.id() as i32);
    let status = launcher.wait_until(Instant::now() + 2 * PROCESS_TIMEOUT);
    let _ = killpg(group, Signal::SIGKILL); // what is left of the group; none is fine
    match status? {
        Some(s) if s.success() => Ok(()),
        Some(s) => bail!("mpirun ended with {}", describe(s)),
        None => bail!("mpirun did not finish in time; killed it and its ranks"),
    }
}
// ANCHOR_END: launch

// ANCHOR: ranks
fn ranks(o: &Options) -> Result<()> {
    // If the launcher's proxy that started this rank dies, the rank is killed too.
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    // The machine and the load before anything runs (it starts programs: before MPI).
    let record = o.json.as_ref().map(|_| shmbook::record::Report::begin());
    let universe = mpi::initialize().context("MPI was initialized already")?;
    let world = universe.world();
    if world.size() != 2 {
        bail!(
            "run with exactly 2 ranks (mpirun -n 2), not {}",
            world.size()
        );
    }
    let result = if world.rank() == 0 {
        rank0(&world, o, record)
    } else {
        rank1(&world, o)
    };
    if let Err(e) = &result {
        eprintln!("error in rank {}: {e:#}", world.rank());
        world.abort(1); // ends the other rank too, instead of leaving it waiting
    }
    result
}
// ANCHOR_END: ranks

/// Rank 0: every size, then the small message; prints the results, writes the JSON.
fn rank0(
    world: &impl Communicator,
    o: &Options,
    record: Option<shmbook::record::Report>,
) -> Result<()> {
    let plan = o.plan();
    println!(
        "2 ranks started by mpirun; the library is {}",
        report::library()
    );
    warm_up(world);
    let largest = plan.iter().map(|&(s, _)| s).max().unwrap_or(0);
    warn_if_debug(largest >= 64 << 20 || o.n > 10_000);
    report::announce(&plan);
    let mut rows = Vec::new();
    for &(size, rounds) in &plan {
        let measured = send_array(world, size, rounds)?;
        rows.push(report::row(size, &measured));
    }
    let histogram = round_trips(world, o.n)?;
    report::latency(o.n, &histogram);
    if let (Some(doc), Some(path)) = (record, &o.json) {
        report::write(doc, path, &plan, rows.clone(), o.n, &histogram)?;
    }
    ensure!(
        rows.iter().all(|r| r.matched),
        "rank 1's checksum differed from rank 0's"
    );
    Ok(())
}

// ANCHOR: send
/// Rank 0's rounds at one size: send the array, wait for rank 1's one-byte ack (the
/// clock stops there), receive its checksum. A `memcpy` of the same array between
/// page-aligned buffers is timed in the same round: before the send in even rounds,
/// after it in odd ones. One round before them is not timed: it sets the path up.
fn send_array(world: &impl Communicator, size: usize, rounds: u32) -> Result<Measured> {
    let peer = world.process_at_rank(1);
    let data = Aligned::copy_of(&make_array(size / 8)); // page-aligned, like a segment
    let (mut target, expected) = (Aligned::zeroed(data.len()), checksum(&data));
    let mut m = Measured::default();
    for round in 0..=rounds {
        let copy_first = round % 2 == 0;
        let before = copy_first.then(|| memcpy(&mut target, &data));
        world.barrier();
        let start = Instant::now();
        peer.send(&data[..]);
        let (_ack, _) = peer.receive::<u8>();
        let time = start.elapsed();
        let (sum, _) = peer.receive::<u64>();
        let baseline = before.unwrap_or_else(|| memcpy(&mut target, &data));
        if round > 0 {
            m.round(time, baseline, sum == expected);
        }
    }
    Ok(m)
}

/// Rank 0's small messages: one untimed round trip, then `n` timed into a histogram.
fn round_trips(world: &impl Communicator, n: u32) -> Result<Histogram<u64>> {
    let peer = world.process_at_rank(1);
    world.barrier();
    timed_round_trips(n, |i| {
        peer.send(&i);
        let (reply, _) = peer.receive::<u64>();
        ensure!(reply == i, "sent {i}, got {reply} back");
        Ok(())
    })
}
// ANCHOR_END: send

/// Untimed round trips of a 4 KiB message before anything is measured, both ranks
/// alike. Small messages travel through a ring of buffers in shared memory, and the
/// first pass through it is slow (most likely its pages being mapped): here (MPICH on
/// UCX, whose ring has 64 slots) the first 64 arrays of 4 KiB took about ten times as
/// long as the ones after, and small messages alone did not end that.
fn warm_up(world: &impl Communicator) {
    let peer = world.process_at_rank(1 - world.rank());
    let mut message = [0u64; 512];
    for _ in 0..WARM_UP {
        if world.rank() == 0 {
            peer.send(&message[..]);
            peer.receive_into(&mut message[..]);
        } else {
            peer.receive_into(&mut message[..]);
            peer.send(&message[..]);
        }
    }
}

/// Twice around a ring of 64, each way.
const WARM_UP: u32 = 128;

/// The baseline: one copy of the array into page-aligned memory, already mapped.
fn memcpy(target: &mut [f64], data: &[f64]) -> Duration {
    let start = Instant::now();
    target.copy_from_slice(data);
    std::hint::black_box(target);
    start.elapsed()
}

// ANCHOR: receive
/// Rank 1: at each size, receive every array into one page-aligned buffer, mapped
/// before the rounds; ack, send the checksum. Then answer every small message.
fn rank1(world: &impl Communicator, o: &Options) -> Result<()> {
    let peer = world.process_at_rank(0);
    warm_up(world);
    for (size, rounds) in o.plan() {
        let mut buffer = Aligned::zeroed(size / 8);
        for _ in 0..=rounds {
            world.barrier();
            peer.receive_into(&mut buffer[..]);
            peer.send(&1u8);
            peer.send(&checksum(&buffer));
        }
    }
    world.barrier();
    for _ in 0..=o.n {
        let (message, _) = peer.receive::<u64>();
        peer.send(&message);
    }
    Ok(())
}
// ANCHOR_END: receive
