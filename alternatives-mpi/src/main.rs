//! The Alternatives chapter's MPI program: the Rust counterpart of mpi4py.
//!
//! Two ranks: rank 0 sends the chapter's array to rank 1, which checksums it, then the
//! two bounce an 8-byte message. MPI programs are started by a launcher —
//! `mpirun -n 2 PROGRAM`, like `mpiexec -n 2 python3 script.py` for mpi4py. Started
//! without one (`cargo run -q -p alternatives-mpi`), the program runs
//! `mpirun -n 2` on itself, waits for it (bounded) and passes on its exit status.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use mpi::traits::*;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use shmbook::measure::{
    checksum, duration_text, make_array, match_text, rate_text, size_text, warn_if_debug,
};
use shmbook::process::{describe, Child};
use shmbook::{cli, os, PROCESS_TIMEOUT};

/// Move the chapter's array and an 8-byte message between two MPI ranks.
#[derive(Parser)]
#[command(
    name = "alternatives-mpi",
    bin_name = "cargo run -q -p alternatives-mpi --"
)]
struct Options {
    /// The array's size in bytes, a multiple of 8 (4 KiB to 1 GiB)
    #[arg(long, default_value = "4MiB", value_parser = array_size)]
    size: usize,
    /// Rounds; the fastest counts (1 to 1000)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Round trips of the 8-byte message (1 to 10000000)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    n: u32,
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
    let universe = mpi::initialize().context("MPI was initialized already")?;
    let world = universe.world();
    if world.size() != 2 {
        bail!(
            "run with exactly 2 ranks (mpirun -n 2), not {}",
            world.size()
        );
    }
    let result = if world.rank() == 0 {
        rank0(&world, o)
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

/// Rank 0: the array, then the small message; prints the results.
fn rank0(world: &impl Communicator, o: &Options) -> Result<()> {
    println!("2 ranks started by mpirun; the library is {}", library());
    let data = make_array(o.size / 8);
    println!(
        "moving {} ({} f64) from rank 0 to rank 1, best of {} rounds",
        size_text(o.size),
        data.len(),
        o.rounds
    );
    warn_if_debug(o.size >= 64 << 20 || o.n > 1000);
    let memcpy = memcpy(&data, o.rounds);
    println!(
        "{:<24} {}  {}  1.00 × memcpy",
        "memcpy in one process",
        match_text(true),
        rate_text(o.size, memcpy)
    );
    let (best, matched) = send_array(world, &data, o.rounds);
    println!(
        "{:<24} {}  {}  {:.2} × memcpy",
        "MPI send and receive",
        match_text(matched),
        rate_text(o.size, best),
        memcpy.as_secs_f64() / best.as_secs_f64()
    );
    let mean = round_trips(world, o.n)?;
    println!(
        "an 8-byte round trip, mean of {}: {}",
        o.n,
        duration_text(mean)
    );
    ensure!(matched, "rank 1's checksum differed from rank 0's");
    Ok(())
}

/// The MPI library's family, from its version string.
fn library() -> &'static str {
    let library = mpi::environment::library_version().unwrap_or_default();
    if library.starts_with("MPICH") {
        "MPICH"
    } else if library.contains("Open MPI") {
        "Open MPI"
    } else {
        "another MPI library"
    }
}

// ANCHOR: send
/// Rank 0's rounds: send the array, wait for the one-byte ack (the clock stops
/// here), then receive the checksum. Returns the fastest round and whether every
/// checksum matched.
fn send_array(world: &impl Communicator, data: &[f64], rounds: u32) -> (Duration, bool) {
    let peer = world.process_at_rank(1);
    let (mut best, mut matched) = (Duration::MAX, true);
    for _ in 0..rounds {
        world.barrier();
        let start = Instant::now();
        peer.send(data);
        let (_ack, _) = peer.receive::<u8>();
        best = best.min(start.elapsed());
        let (sum, _) = peer.receive::<u64>();
        matched &= sum == checksum(data);
    }
    (best, matched)
}

/// Rank 0's small messages: `n` round trips of one `u64`; returns the mean.
fn round_trips(world: &impl Communicator, n: u32) -> Result<Duration> {
    let peer = world.process_at_rank(1);
    world.barrier();
    let start = Instant::now();
    for i in 1..=u64::from(n) {
        peer.send(&i);
        let (reply, _) = peer.receive::<u64>();
        ensure!(reply == i, "sent {i}, got {reply} back");
    }
    Ok(start.elapsed() / n)
}
// ANCHOR_END: send

// ANCHOR: receive
/// Rank 1: receive each array into one buffer, ack, send the checksum; then answer
/// every small message with itself.
fn rank1(world: &impl Communicator, o: &Options) -> Result<()> {
    let peer = world.process_at_rank(0);
    let mut buffer = vec![1.0f64; o.size / 8]; // written once: already mapped
    for _ in 0..o.rounds {
        world.barrier();
        peer.receive_into(&mut buffer[..]);
        peer.send(&1u8);
        peer.send(&checksum(&buffer));
    }
    world.barrier();
    for _ in 0..o.n {
        let (message, _) = peer.receive::<u64>();
        peer.send(&message);
    }
    Ok(())
}
// ANCHOR_END: receive

/// The same limit as in the `alternatives` example: one copy inside one process.
fn memcpy(data: &[f64], rounds: u32) -> Duration {
    let mut copy = vec![1.0f64; data.len()];
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        copy.copy_from_slice(data);
        std::hint::black_box(&mut copy);
        best = best.min(start.elapsed());
    }
    best
}
