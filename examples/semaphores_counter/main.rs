//! Chapter "Semaphores versus mutexes": the seeds' shared counter, every way of
//! synchronizing it, measured.
//!
//! Two helper processes each add 1 to one counter in a shared segment N times. For each
//! variant the parent prints the final count, the updates lost and the time from "go"
//! until both helpers were done;
//! `--processes 1` runs one helper alone, to time each variant without contention. `--seeds` runs the seeds' N = 50,000,000.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use raw_sync::locks::{LockInit, Mutex};
use shared_memory::{Shmem, ShmemConf};
use shmbook::cli::{self, FromArg};
use shmbook::helper::Helper;
use shmbook::semaphore::Semaphore;
use shmbook::sync::SyncContext;
use shmbook::{names, os, wait, PROCESS_TIMEOUT};

const USAGE: cli::Usage = cli::Usage {
    program: "semaphores_counter",
    about: "two processes add to one shared counter: every way to synchronize it, timed",
    commands: &[
        (
            "run [--n N] [--seeds] [--variant NAME] [--processes 1|2]",
            "time every variant (or one: racy, mutex, held, sem, atomic, local); --seeds: N = 50000000",
        ),
        ("_count VARIANT NAME N SLOT", ""),
    ],
};

/// The seeds' number of additions per process.
const SEEDS_N: u64 = 50_000_000;

fn main() -> std::process::ExitCode {
    cli::main(&USAGE, |command, mut args| match command {
        "run" => {
            let seeds = args.switch("--seeds");
            let n = args.value::<u64>("--n")?;
            let only = args.value::<Variant>("--variant")?;
            let processes: u32 = args.value_or("--processes", 2)?;
            if !(1..=2).contains(&processes) {
                return Err(args.invalid("--processes must be 1 or 2").into());
            }
            if seeds && n.is_some() {
                return Err(args.invalid("give --n or --seeds, not both").into());
            }
            let n = if seeds {
                SEEDS_N
            } else {
                n.unwrap_or(1_000_000)
            };
            if n == 0 || n > 1_000_000_000 {
                return Err(args.invalid("--n must be from 1 to 1000000000").into());
            }
            args.finish()?;
            run(n, only, processes)
        }
        _ => {
            let variant: Variant = args.positional("variant")?;
            let name: cli::SegmentName = args.positional("segment name")?;
            let n: u64 = args.positional("count")?;
            let slot: usize = args.positional("slot")?;
            args.finish()?;
            count(variant, &name.0, n, slot.min(1))
        }
    })
}

// ANCHOR: variants
/// The ways to make two processes add to one counter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// No synchronization: a relaxed load, then a store. Defined behaviour, lost updates.
    Racy,
    /// A `raw_sync` mutex taken and released around every single addition.
    Mutex,
    /// The seeds' shape: the semaphore taken once and held for the whole loop.
    Held,
    /// A process-shared POSIX semaphore taken and released around every addition.
    Sem,
    /// One atomic read-modify-write per addition: `fetch_add`.
    Atomic,
    /// Count in a local variable; add the total to the shared counter once.
    Local,
}
// ANCHOR_END: variants

const ALL: [Variant; 6] = [
    Variant::Racy,
    Variant::Mutex,
    Variant::Held,
    Variant::Sem,
    Variant::Atomic,
    Variant::Local,
];

impl Variant {
    fn word(self) -> &'static str {
        match self {
            Variant::Racy => "racy",
            Variant::Mutex => "mutex",
            Variant::Held => "held",
            Variant::Sem => "sem",
            Variant::Atomic => "atomic",
            Variant::Local => "local",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Variant::Racy => "no lock (load, then store)",
            Variant::Mutex => "raw_sync Mutex per addition",
            Variant::Held => "semaphore held for the loop",
            Variant::Sem => "semaphore per addition",
            Variant::Atomic => "AtomicU64::fetch_add",
            Variant::Local => "local count, added once",
        }
    }
}

impl FromArg for Variant {
    const WHAT: &'static str = "a variant (racy, mutex, held, sem, atomic, local)";
    fn from_arg(word: &str) -> Result<Self, String> {
        ALL.into_iter()
            .find(|v| v.word() == word)
            .ok_or_else(|| format!("'{word}' is not one of racy, mutex, held, sem, atomic, local"))
    }
}

// ANCHOR: layout
/// The start of the segment. The semaphore and the mutex follow at fixed offsets.
#[repr(C)]
struct Shared {
    /// The counter every variant adds to.
    count: AtomicU64,
    /// Helpers attached and waiting for "go".
    ready: AtomicU32,
    /// Set to 1 by the parent: start counting.
    go: AtomicU32,
    /// The parent's clock when it said "go", and each helper's when it finished
    /// (CLOCK_MONOTONIC nanoseconds, the same clock in every process).
    start_ns: AtomicU64,
    end_ns: [AtomicU64; 2],
}

const SEM_AT: usize = 64;
const MUTEX_AT: usize = 128;
const SEGMENT_SIZE: usize = 4096;

fn shared(shmem: &Shmem) -> &Shared {
    // SAFETY: the mapping is page-aligned and 4096 bytes, larger than `Shared`; every
    // field is an atomic, so several processes may access it at once; the borrow
    // cannot outlive `shmem`, which keeps the mapping alive.
    unsafe { &*(shmem.as_ptr() as *const Shared) }
}
// ANCHOR_END: layout

/// CLOCK_MONOTONIC in nanoseconds: unlike `Instant`, comparable between processes.
fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn run(n: u64, only: Option<Variant>, processes: u32) -> Result<()> {
    let expected = u64::from(processes) * n;
    match processes {
        1 => println!("1 process adds 1 to a shared counter {n} times, alone: {expected} expected"),
        _ => println!("2 processes each add 1 to a shared counter {n} times: {expected} expected"),
    }
    for v in ALL.into_iter().filter(|v| only.is_none_or(|o| o == *v)) {
        match measure(v, n, processes) {
            Ok((count, secs)) => {
                let verdict = match (v, count == expected) {
                    (Variant::Racy, _) => "no guarantee",
                    (_, true) => "right",
                    (_, false) => "WRONG",
                };
                println!(
                    "{:<28} {verdict:<12} count {count}, lost {}, {}",
                    v.label(),
                    expected - count,
                    seconds(secs)
                );
            }
            Err(e)
                if cfg!(target_vendor = "apple") && matches!(v, Variant::Held | Variant::Sem) =>
            {
                println!("{:<28} {e:#}", v.label())
            }
            Err(e) => return Err(e.context(format!("variant '{}'", v.word()))),
        }
    }
    Ok(())
}

fn seconds(s: f64) -> String {
    if s < 0.1 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

// ANCHOR: measure
/// Runs one variant in `processes` helpers; returns the final count and the seconds
/// from "go" until the last helper finished.
fn measure(v: Variant, n: u64, processes: u32) -> Result<(u64, f64)> {
    let shmem = ShmemConf::new()
        .size(SEGMENT_SIZE)
        .os_id(names::unique("counter")) // removed on Ctrl-C too
        .create()
        .map_err(os::explain)
        .context("creating the counter's segment")?;
    let base = shmem.as_ptr();
    let s = shared(&shmem);
    // The lock this variant uses, set up before any helper starts.
    let sem = match v {
        // SAFETY: SEM_AT is 8-aligned, inside the segment, and no helper exists yet.
        Variant::Held | Variant::Sem => Some(unsafe { Semaphore::init(base.add(SEM_AT), 1)? }),
        _ => None,
    };
    let mutex = match v {
        // SAFETY: MUTEX_AT leaves room for a pthread_mutex_t inside the segment, and no
        // helper exists yet; the data pointer is the counter, which the mutex guards.
        Variant::Mutex => Some(
            unsafe { Mutex::new(base.add(MUTEX_AT), base) }.sync_context("creating the mutex")?,
        ),
        _ => None,
    };

    let (name, count) = (shmem.get_os_id(), n.to_string());
    let helpers = ["0", "1"][..processes as usize]
        .iter()
        .map(|slot| Helper::spawn("_count", &[v.word(), name, &count, slot]))
        .collect::<Result<Vec<_>>>()?;
    wait::until("the helpers to attach", PROCESS_TIMEOUT, || {
        s.ready.load(Ordering::Acquire) == processes
    })?;
    s.start_ns.store(now_ns(), Ordering::Relaxed);
    s.go.store(1, Ordering::Release);
    // Bounded, with room for the seeds' N on a slow machine.
    let limit = PROCESS_TIMEOUT.max(Duration::from_secs(n / 500_000));
    for h in helpers {
        h.wait_ok(limit)?;
    }
    let end = s.end_ns.iter().map(|e| e.load(Ordering::Acquire)).max();
    let secs = (end.unwrap_or(0) - s.start_ns.load(Ordering::Relaxed)) as f64 / 1e9;

    // raw_sync's Drop never destroys the OS object; the creator does it, last.
    if let Some((mutex, _)) = mutex {
        // SAFETY: the helpers have exited; nobody uses the mutex any more.
        unsafe { libc::pthread_mutex_destroy(mutex.as_raw().cast()) };
    }
    if let Some(sem) = sem {
        // SAFETY: the helpers have exited; nobody uses the semaphore any more.
        unsafe { sem.destroy() };
    }
    Ok((s.count.load(Ordering::Acquire), secs))
}
// ANCHOR_END: measure

// ANCHOR: count
/// The addition in every variant but the atomic one: two separate steps, a load and
/// then a store, like the seeds' `b[0] += 1` (read, add, write). `black_box` keeps the
/// compiler from fusing them into one `inc` instruction (which would lose updates too,
/// in a shorter window). Relaxed atomics: no undefined behaviour even when racing.
fn add_one(c: &AtomicU64) {
    let seen = c.load(Ordering::Relaxed);
    c.store(std::hint::black_box(seen) + 1, Ordering::Relaxed);
}

/// One helper: attach, wait for "go", add 1 `n` times the variant's way.
fn count(v: Variant, name: &str, n: u64, slot: usize) -> Result<()> {
    let shmem = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))?;
    let base = shmem.as_ptr();
    let s = shared(&shmem);
    let c = &s.count;
    s.ready.fetch_add(1, Ordering::AcqRel);
    wait::until("the parent's go", PROCESS_TIMEOUT, || {
        s.go.load(Ordering::Acquire) == 1
    })?;

    match v {
        Variant::Racy => {
            for _ in 0..n {
                add_one(c); // nothing stops the other process between its two steps
            }
        }
        Variant::Mutex => {
            // SAFETY: the parent initialized the mutex at MUTEX_AT before starting us.
            let (mutex, _) = unsafe { Mutex::from_existing(base.add(MUTEX_AT), base) }
                .sync_context("attaching to the mutex")?;
            for _ in 0..n {
                let _guard = mutex.lock().sync_context("locking the mutex")?;
                add_one(c); // under the lock, the two steps are enough
            } // the guard unlocks here, every iteration
        }
        Variant::Held => {
            // SAFETY: the parent initialized the semaphore at SEM_AT before starting us.
            let sem = unsafe { Semaphore::attach(base.add(SEM_AT)) };
            sem.wait()?; // taken once: the other process waits for the whole loop
            for _ in 0..n {
                add_one(c);
            }
            sem.post()?;
        }
        Variant::Sem => {
            // SAFETY: as above.
            let sem = unsafe { Semaphore::attach(base.add(SEM_AT)) };
            for _ in 0..n {
                sem.wait()?;
                add_one(c);
                sem.post()?;
            }
        }
        Variant::Atomic => {
            for _ in 0..n {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        Variant::Local => {
            let mut local = 0u64;
            for _ in 0..n {
                // black_box keeps the compiler from replacing the loop by `local = n`.
                local = std::hint::black_box(local + 1);
            }
            c.fetch_add(local, Ordering::Relaxed);
        }
    }
    s.end_ns[slot].store(now_ns(), Ordering::Release);
    Ok(())
}
// ANCHOR_END: count
