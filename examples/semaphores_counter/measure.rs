//! The parent's side: lay out the segment, set up the variant's lock, start the
//! helpers, say "go", and time them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use clap::ValueEnum;
use raw_sync::locks::{LockImpl, LockInit, Mutex};
use shared_memory::Shmem;
use shmbook::helper::Helper;
use shmbook::measure::now_ns;
use shmbook::semaphore::Semaphore;
use shmbook::semaphores::{body, Layout};
use shmbook::sync::SyncContext;
use shmbook::{wait, PROCESS_TIMEOUT};

use crate::variants::Variant;

/// The most additions per process `--n` accepts (and a helper believes its header).
pub const MAX_N: u64 = 1_000_000_000;

// ANCHOR: layout
/// The counter's segment: a checked header `shmbcnt1`, then the body below.
pub const SEGMENT: Layout = Layout {
    magic: *b"shmbcnt1",
    size: 4096,
};

/// The start of the body. The semaphore and the mutex follow at fixed offsets.
#[repr(C)]
pub struct Shared {
    /// The counter every variant adds to.
    pub count: AtomicU64,
    /// How many additions each helper makes.
    pub n: AtomicU64,
    /// Helpers attached and waiting for "go".
    pub ready: AtomicU32,
    /// Set to 1 by the parent: start counting.
    pub go: AtomicU32,
    /// The parent's clock when it said "go", and each helper's when it finished
    /// (CLOCK_MONOTONIC nanoseconds, the same clock in every process).
    pub start_ns: AtomicU64,
    pub end_ns: [AtomicU64; 2],
}

pub const SEM_AT: usize = 64;
pub const MUTEX_AT: usize = 128;

pub fn shared(shmem: &Shmem) -> &Shared {
    // SAFETY: the body is 8-aligned and far larger than `Shared`; every field is an
    // atomic, valid for any bytes and usable by several processes at once; the borrow
    // cannot outlive `shmem`, which keeps the mapping alive.
    unsafe { &*(body(shmem) as *const Shared) }
}
// ANCHOR_END: layout

// ANCHOR: lock
/// The lock a variant uses, set up by the parent before any helper starts.
enum Lock<'m> {
    None,
    Sem(Semaphore<'m>),
    Mutex(Box<dyn LockImpl>),
}

fn set_up(v: Variant, shmem: &Shmem) -> Result<Lock<'_>> {
    let base = body(shmem);
    Ok(match v {
        Variant::Held | Variant::Sem => {
            // SAFETY: SEM_AT is in the segment (init checks it); no helper exists yet.
            Lock::Sem(unsafe { Semaphore::init(shmem, base.add(SEM_AT), 1)? })
        }
        // SAFETY: MUTEX_AT leaves room for a pthread_mutex_t inside the segment, no
        // helper exists yet; the data pointer is the counter, which the mutex guards.
        Variant::Mutex => Lock::Mutex(
            unsafe { Mutex::new(base.add(MUTEX_AT), base) }
                .sync_context("creating the mutex")?
                .0,
        ),
        _ => Lock::None,
    })
}
// ANCHOR_END: lock

impl Lock<'_> {
    /// Destroys the OS object: raw_sync's Drop never does; the creator does it, last.
    ///
    /// # Safety
    /// No process uses the lock any more.
    unsafe fn destroy(self) {
        match self {
            // SAFETY: the caller's promise.
            Lock::Sem(sem) => unsafe { sem.destroy() },
            // SAFETY: as above.
            Lock::Mutex(m) => unsafe {
                libc::pthread_mutex_destroy(m.as_raw().cast());
            },
            Lock::None => {}
        }
    }
}

// ANCHOR: measure
/// Runs one variant in `processes` helpers; returns the final count and the seconds
/// from "go" until the last helper finished.
fn measure(v: Variant, n: u64, processes: u32) -> Result<(u64, f64)> {
    let shmem = SEGMENT.create("counter")?;
    let s = shared(&shmem);
    s.n.store(n, Ordering::Relaxed);
    let lock = set_up(v, &shmem)?;
    SEGMENT.publish(&shmem, v as u32); // the header: "this variant, set up"

    let helpers = (0..processes)
        .map(|slot| Helper::spawn("_count", &[shmem.get_os_id(), &slot.to_string()]))
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
    // SAFETY: the helpers have exited; nobody uses the lock any more.
    unsafe { lock.destroy() };
    let end = s.end_ns.iter().map(|e| e.load(Ordering::Acquire)).max();
    let secs = (end.unwrap_or(0) - s.start_ns.load(Ordering::Relaxed)) as f64 / 1e9;
    Ok((s.count.load(Ordering::Acquire), secs))
}
// ANCHOR_END: measure

/// Times every variant (or `only`) and prints one line for each, or (`json`) one
/// JSON object with every variant's count and seconds, for `scripts/record-counter`.
pub fn run(n: u64, only: Option<Variant>, processes: u32, json: bool) -> Result<()> {
    let expected = u64::from(processes) * n;
    match (json, processes) {
        (true, _) => {}
        (false, 1) => {
            println!("1 process adds 1 to a shared counter {n} times, alone: {expected} expected")
        }
        (false, _) => {
            println!("2 processes each add 1 to a shared counter {n} times: {expected} expected")
        }
    }
    let mut ways = Vec::new();
    for &v in Variant::value_variants() {
        if only.is_some_and(|o| o != v) {
            continue;
        }
        match measure(v, n, processes) {
            Ok((count, secs)) if json => ways.push(serde_json::json!({
                "variant": v.word(), "count": count, "seconds": secs,
            })),
            Ok((count, secs)) => {
                let verdict = match (v, count == expected) {
                    (Variant::Racy, _) => "no guarantee",
                    (_, true) => "right",
                    (_, false) => "WRONG",
                };
                let lost = expected.saturating_sub(count);
                let time = seconds(secs);
                println!(
                    "{:<28} {verdict:<12} count {count}, lost {lost}, {time}",
                    v.label()
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
    if json {
        let run = serde_json::json!({ "processes": processes, "n": n, "ways": ways });
        println!("{run}");
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
