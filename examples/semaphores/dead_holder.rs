//! Section "When the holder dies": a helper killed while it holds the mutex leaves a
//! `raw_sync` mutex locked for ever; a robust mutex tells the next locker.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Result};
use raw_sync::locks::{LockImpl, LockInit, Mutex};
use shared_memory::Shmem;
use shmbook::helper::{self, Helper};
use shmbook::locks::{check, check_raw_sync_mutex, lock_within};
use shmbook::semaphores::demo::{self as segment, object, shared, Object};
use shmbook::sync::SyncContext;
use shmbook::{wait, PROCESS_TIMEOUT};

use crate::pmutex::{Kind, PMutex};

// ANCHOR: dead_holder
pub fn dead_holder() -> Result<()> {
    let shmem = segment::create()?;
    // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
    let (mutex, _) = unsafe { Mutex::new(object(&shmem), std::ptr::null_mut()) }
        .sync_context("creating the mutex")?;
    segment::publish(&shmem, Object::RawMutex);
    kill_holder(&shmem, "raw_sync")?;
    let limit = Duration::from_millis(200);
    match lock_within(&*mutex, limit, "the mutex") {
        Ok(_) => bail!("the dead holder's raw_sync mutex was free"),
        Err(_) => println!(
            "parent: raw_sync mutex still locked after {} s: it never will be free",
            limit.as_secs_f64()
        ),
    }
    robust() // in a segment of its own: a locked mutex must never be initialized again
}

/// Starts a helper that locks the mutex, waits until it holds it, kills it.
pub fn kill_holder(shmem: &Shmem, which: &str) -> Result<()> {
    let holder = Helper::spawn("_hold", &[shmem.get_os_id()])?;
    wait::until("the helper to take the lock", PROCESS_TIMEOUT, || {
        shared(shmem).ready.load(Ordering::Acquire) == 1
    })?;
    let status = holder.kill()?;
    println!(
        "parent: the {which} mutex's holder was {}",
        helper::describe(status)
    );
    Ok(())
}
// ANCHOR_END: dead_holder

// ANCHOR: robust
#[cfg(target_os = "linux")]
fn robust() -> Result<()> {
    let shmem = segment::create()?;
    let s = shared(&shmem);
    // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
    let mutex = unsafe { PMutex::init(&shmem, object(&shmem), Kind::Robust)? };
    segment::publish(&shmem, Object::Robust);
    kill_holder(&shmem, "robust")?;
    let deadline = shmbook::locks::deadline(Duration::from_millis(500));
    // SAFETY: the mutex was initialized above and stays mapped; `deadline` is valid.
    let rc = unsafe { libc::pthread_mutex_timedlock(mutex.0, &deadline) };
    println!(
        "parent: pthread_mutex_timedlock returned {}",
        shmbook::locks::describe(rc)
    );
    if rc != libc::EOWNERDEAD {
        bail!("expected EOWNERDEAD");
    }
    // We hold the lock now. Whatever the dead holder was changing may be half done:
    // repair it, then declare the mutex consistent again.
    s.data.store(0, Ordering::Release);
    // SAFETY: we hold the mutex after EOWNERDEAD, which is when this call is allowed.
    check("pthread_mutex_consistent", unsafe {
        libc::pthread_mutex_consistent(mutex.0)
    })?;
    check("pthread_mutex_unlock", mutex.unlock())?;
    println!("parent: repaired the data, marked it consistent, unlocked it");
    check("pthread_mutex_lock", mutex.lock())?;
    check("pthread_mutex_unlock", mutex.unlock())?;
    println!("parent: the next lock and unlock succeed");
    // SAFETY: the holder is dead, nobody else uses the mutex, and it is unlocked.
    unsafe { mutex.destroy() };
    Ok(())
}
// ANCHOR_END: robust

#[cfg(not(target_os = "linux"))]
fn robust() -> Result<()> {
    println!("robust mutexes: not supported on this system");
    Ok(())
}

// ANCHOR: hold
pub fn hold(name: &str) -> Result<()> {
    let (shmem, lock) = segment::open_any(name, &[Object::RawMutex, Object::Robust])?;
    let (s, at) = (shared(&shmem), object(&shmem));
    let _raw_guard;
    if lock == Object::RawMutex {
        // SAFETY: the header says the parent created a raw_sync mutex there, and its
        // kind is checked before raw_sync uses it.
        let (mutex, _) = unsafe {
            check_raw_sync_mutex(at)?;
            Mutex::from_existing(at, std::ptr::null_mut())
        }
        .sync_context("attaching to the mutex")?;
        // Leak the handle: the guard below borrows it until we are killed.
        let mutex: &'static dyn LockImpl = Box::leak(mutex);
        _raw_guard = lock_within(mutex, PROCESS_TIMEOUT, "the mutex")?;
    } else {
        // SAFETY: the header says the parent set up a robust PMutex there (kind checked).
        let mutex = unsafe { PMutex::open(&shmem, at, Kind::Robust)? };
        check("pthread_mutex_lock", mutex.lock())?;
        s.data.store(1, Ordering::Release); // "half-way through an update"
    }
    s.ready.store(1, Ordering::Release);
    std::thread::sleep(PROCESS_TIMEOUT); // bounded: the parent kills us long before
    bail!("nobody killed this helper")
}
// ANCHOR_END: hold
