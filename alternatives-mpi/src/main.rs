//! The Alternatives chapter's MPI program: the Rust counterpart of mpi4py.
//!
//! Two ranks: rank 0 sends the chapter's array to rank 1, which checksums it, then the
//! two bounce an 8-byte message. MPI programs are started by a launcher —
//! `mpirun -n 2 PROGRAM`, like `mpiexec -n 2 python3 script.py` for mpi4py. Started
//! without one (`cargo run -q -p alternatives-mpi`), the program runs
//! `mpirun -n 2` on itself, waits for it (bounded) and passes on its exit status.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mpi::traits::*;
use shmbook::cli::{Bytes, FromArg};
use shmbook::measure::{
    checksum, duration_text, make_array, match_text, rate_text, size_text, warn_if_debug,
};
use shmbook::{os, PROCESS_TIMEOUT};

const USAGE: &str = "usage: cargo run -p alternatives-mpi -- [--size BYTES] [--rounds N] [--n N]";

struct Options {
    size: usize,
    rounds: u32,
    n: u32,
}

fn main() -> ExitCode {
    let words: Vec<String> = std::env::args().skip(1).collect();
    if words.iter().any(|w| w == "--help" || w == "-h") {
        println!("alternatives-mpi: move the chapter's array and an 8-byte message between two MPI ranks");
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(&words) {
        Ok(o) => o,
        Err(what) => {
            eprintln!("alternatives-mpi: {what}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = if launched_by_mpirun() {
        ranks(&options)
    } else {
        launch(&words)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn parse(words: &[String]) -> Result<Options, String> {
    let mut o = Options {
        size: 4 << 20,
        rounds: 3,
        n: 1000,
    };
    let mut rest = words.iter();
    while let Some(flag) = rest.next() {
        let value = match flag.as_str() {
            "--size" | "--rounds" | "--n" => rest.next().ok_or(format!("{flag} needs a value"))?,
            other => return Err(format!("unknown option '{other}'")),
        };
        let bad = |why: String| format!("{flag}: {why}");
        match flag.as_str() {
            "--size" => o.size = Bytes::from_arg(value).map_err(bad)?.0,
            "--rounds" => o.rounds = u32::from_arg(value).map_err(bad)?,
            _ => o.n = u32::from_arg(value).map_err(bad)?,
        }
    }
    if o.size < 4096 || !o.size.is_multiple_of(8) {
        return Err("--size must be a multiple of 8 bytes, at least 4096".into());
    }
    if o.rounds == 0 || o.n == 0 {
        return Err("--rounds and --n must be at least 1".into());
    }
    Ok(o)
}

// ANCHOR: launch
/// True inside a process that an MPI launcher started: MPICH's Hydra sets `PMI_RANK`,
/// Open MPI sets `OMPI_COMM_WORLD_RANK`, PMIx-based launchers set `PMIX_RANK`.
fn launched_by_mpirun() -> bool {
    ["PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// Runs `mpirun -n 2 THIS-PROGRAM ARGS`, at most `2 × PROCESS_TIMEOUT`.
fn launch(args: &[String]) -> Result<ExitCode> {
    let Some(mpirun) = os::find_program("mpirun") else {
        bail!(
            "no mpirun on PATH: install MPI (Debian, Ubuntu: apt-get install mpich \
             libmpich-dev libclang-dev; macOS: brew install mpich)"
        );
    };
    let mut cmd = Command::new(mpirun);
    cmd.args(["-n", "2"])
        .arg(std::env::current_exe().context("finding this program")?)
        .args(args)
        // Open MPI refuses to run as root unless told twice (MPICH ignores these):
        // the same as `mpirun --allow-run-as-root`.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let mut launcher = Group::spawn(cmd)?;
    let limit = 2 * PROCESS_TIMEOUT;
    let start = Instant::now();
    loop {
        if let Some(status) = launcher.child.try_wait()? {
            return Ok(ExitCode::from(status.code().unwrap_or(1) as u8));
        }
        if start.elapsed() > limit {
            bail!(
                "mpirun did not finish within {} s; killed it and its ranks",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The launcher in a process group of its own, so that the whole group — mpirun, its
/// proxy and the ranks — can be killed at once when the time is up or on an early exit.
struct Group {
    child: std::process::Child,
}

impl Group {
    fn spawn(mut cmd: Command) -> Result<Group> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        shmbook::helper::die_with_parent(&mut cmd);
        Ok(Group {
            child: cmd.spawn().context("starting mpirun")?,
        })
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) touches no memory; the negative id names the process
            // group made for mpirun, whose leader we have not reaped yet.
            unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}
// ANCHOR_END: launch

// ANCHOR: ranks
fn ranks(o: &Options) -> Result<ExitCode> {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag of this process: if the
    // launcher's proxy that started this rank dies, the rank is killed too.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
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
    result.map(|()| ExitCode::SUCCESS)
}

fn rank0(world: &impl Communicator, o: &Options) -> Result<()> {
    let library = mpi::environment::library_version().unwrap_or_default();
    let library = if library.starts_with("MPICH") {
        "MPICH"
    } else if library.contains("Open MPI") {
        "Open MPI"
    } else {
        "another MPI library"
    };
    println!("2 ranks started by mpirun; the library is {library}");
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

    let peer = world.process_at_rank(1);
    let (mut best, mut matched) = (Duration::MAX, true);
    for _ in 0..o.rounds {
        world.barrier();
        let start = Instant::now();
        peer.send(&data[..]);
        let (_ack, _) = peer.receive::<u8>();
        best = best.min(start.elapsed());
        let (sum, _) = peer.receive::<u64>();
        matched &= sum == checksum(&data);
    }
    println!(
        "{:<24} {}  {}  {:.2} × memcpy",
        "MPI send and receive",
        match_text(matched),
        rate_text(o.size, best),
        memcpy.as_secs_f64() / best.as_secs_f64()
    );

    world.barrier();
    let start = Instant::now();
    for i in 1..=u64::from(o.n) {
        peer.send(&i);
        let (reply, _) = peer.receive::<u64>();
        if reply != i {
            bail!("sent {i}, got {reply} back");
        }
    }
    println!(
        "an 8-byte round trip, mean of {}: {}",
        o.n,
        duration_text(start.elapsed() / o.n)
    );
    if !matched {
        bail!("rank 1's checksum differed from rank 0's");
    }
    Ok(())
}

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
// ANCHOR_END: ranks

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
