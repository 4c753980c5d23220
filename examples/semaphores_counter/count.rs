//! The helper's side: attach, check the header, wait for "go", add.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use raw_sync::locks::{LockInit, Mutex};
use shared_memory::Shmem;
use shmbook::locks::check_raw_sync_mutex;
use shmbook::measure::now_ns;
use shmbook::semaphore::Semaphore;
use shmbook::semaphores::body;
use shmbook::sync::SyncContext;
use shmbook::{wait, PROCESS_TIMEOUT};

use crate::measure::{shared, MAX_N, MUTEX_AT, SEGMENT, SEM_AT};
use crate::variants::Variant;

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
pub fn count(name: &str, slot: usize) -> Result<()> {
    let (shmem, kind) = SEGMENT.open(name)?; // checks its length and header
    let v = Variant::from_kind(kind).with_context(|| format!("{name}: no variant {kind}"))?;
    let s = shared(&shmem);
    let n = s.n.load(Ordering::Relaxed);
    if n > MAX_N {
        bail!("{name} asks for {n} additions, more than {MAX_N}");
    }
    s.ready.fetch_add(1, Ordering::AcqRel);
    wait::until("the parent's go", PROCESS_TIMEOUT, || {
        s.go.load(Ordering::Acquire) == 1
    })?;
    match v {
        Variant::Racy | Variant::Atomic | Variant::Local => add_unlocked(v, &s.count, n),
        Variant::Mutex | Variant::Held | Variant::Sem => add_locked(v, &s.count, &shmem, n)?,
    }
    s.end_ns[slot].store(now_ns(), Ordering::Release);
    Ok(())
}
// ANCHOR_END: count

// ANCHOR: unlocked
/// The variants without a lock.
fn add_unlocked(v: Variant, c: &AtomicU64, n: u64) {
    match v {
        Variant::Racy => {
            for _ in 0..n {
                add_one(c); // nothing stops the other process between its two steps
            }
        }
        Variant::Atomic => {
            for _ in 0..n {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        _ => {
            let mut local = 0u64;
            for _ in 0..n {
                // black_box keeps the compiler from replacing the loop by `local = n`.
                local = std::hint::black_box(local + 1);
            }
            c.fetch_add(local, Ordering::Relaxed);
        }
    }
}
// ANCHOR_END: unlocked

// ANCHOR: locked
/// The variants with a lock, which the parent set up in the body of `shmem`.
fn add_locked(v: Variant, c: &AtomicU64, shmem: &Shmem, n: u64) -> Result<()> {
    let base = body(shmem);
    if v == Variant::Mutex {
        // SAFETY: the header says the parent set up the mutex at MUTEX_AT; its kind is
        // checked before raw_sync uses it.
        let (mutex, _) = unsafe {
            check_raw_sync_mutex(base.add(MUTEX_AT))?;
            Mutex::from_existing(base.add(MUTEX_AT), base)
        }
        .sync_context("attaching to the mutex")?;
        for _ in 0..n {
            let _guard = mutex.lock().sync_context("locking the mutex")?;
            add_one(c); // under the lock, the two steps are enough
        } // the guard unlocks here, every iteration
        return Ok(());
    }
    // SAFETY: the header says the parent set up the semaphore at SEM_AT (bytes checked).
    let sem = unsafe { Semaphore::open(shmem, base.add(SEM_AT))? };
    if v == Variant::Held {
        sem.wait()?; // taken once: the other process waits for the whole loop
        (0..n).for_each(|_| add_one(c));
        return sem.post();
    }
    for _ in 0..n {
        sem.wait()?;
        add_one(c);
        sem.post()?;
    }
    Ok(())
}
// ANCHOR_END: locked
