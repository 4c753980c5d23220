//! Section "Readers together, a writer alone": with glibc's default read-write lock, a
//! waiting writer lets new readers pass, so readers that keep coming starve it.
//! Linux only (glibc's kinds of read-write lock, `pthread_rwlock_timedwrlock`).

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Result;
use raw_sync::locks::{LockInit, RwLock};
use shmbook::helper::Helper;
use shmbook::locks::{check, rwlock_within, Access};
use shmbook::semaphores::demo::{
    self as segment, asleep, attach_and_wait_for_go, object, procfs_pid, shared, start_together,
    Object,
};
use shmbook::sync::SyncContext;
use shmbook::{wait, yes_no, PROCESS_TIMEOUT};

use crate::rwlock::attach;

/// Readers that enter, one after the other, once the writer has asked for the lock.
const LAPS: u32 = 10;

// ANCHOR: starve
pub fn starve(prefer_writer: bool) -> Result<()> {
    let shmem = segment::create()?;
    let s = shared(&shmem);
    // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
    unsafe { set_up(object(&shmem), prefer_writer)? };
    segment::publish(&shmem, Object::RwLock);
    let name = shmem.get_os_id();
    let helpers = [
        Helper::spawn("_relay", &[name, "0"])?,
        Helper::spawn("_relay", &[name, "1"])?,
        Helper::spawn("_starved", &[name])?,
    ];
    start_together(s, 3)?;
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    let passed = s.before_writer.load(Ordering::Acquire);
    println!("readers that came after the writer asked: {LAPS}; got in before it: {passed}");
    let last = s.data.load(Ordering::Acquire) == u64::from(LAPS + 1);
    println!(
        "the writer got in only after the last of them: {}",
        yes_no(last)
    );
    Ok(())
}
// ANCHOR_END: starve

/// A process-shared read-write lock at `at`: raw_sync's (glibc's default kind, which
/// prefers readers), or one set up by hand that prefers a waiting writer.
///
/// # Safety
/// `at` is 8-aligned with room for a `pthread_rwlock_t`, and nobody else uses it yet.
unsafe fn set_up(at: *mut u8, prefer_writer: bool) -> Result<()> {
    if !prefer_writer {
        // SAFETY: the caller's promise.
        unsafe { RwLock::new(at, std::ptr::null_mut()) }.sync_context("creating the lock")?;
        return Ok(());
    }
    let mut attr = MaybeUninit::<libc::pthread_rwlockattr_t>::uninit();
    let a = attr.as_mut_ptr();
    // glibc's value of PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP (<pthread.h>).
    const PREFER_WRITER: i32 = 2;
    // SAFETY: `a` is initialized by the first call before the others use it; `at` is
    // the caller's promise; the lock keeps no reference to its attributes.
    unsafe {
        check("pthread_rwlockattr_init", libc::pthread_rwlockattr_init(a))?;
        let pshared = libc::pthread_rwlockattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED);
        let done = check("pthread_rwlockattr_setpshared", pshared)
            .and_then(|()| {
                check(
                    "setkind_np",
                    libc::pthread_rwlockattr_setkind_np(a, PREFER_WRITER),
                )
            })
            .and_then(|()| {
                check(
                    "pthread_rwlock_init",
                    libc::pthread_rwlock_init(at.cast(), a),
                )
            });
        libc::pthread_rwlockattr_destroy(a);
        done
    }
}

// ANCHOR: relay
/// Reader `me` (0 or 1) of a relay: the two take turns, and each stays inside until
/// the next one is in, so that the lock is never free while the relay runs.
pub fn relay(name: &str, me: u32) -> Result<()> {
    let (shmem, lock) = attach(name)?;
    let s = shared(&shmem);
    attach_and_wait_for_go(s)?;
    loop {
        wait::until("my turn", PROCESS_TIMEOUT, || {
            let lap = s.entered.load(Ordering::Acquire);
            lap > LAPS || lap % 2 == me
        })?;
        if s.entered.load(Ordering::Acquire) > LAPS {
            return Ok(());
        }
        // SAFETY: `lock` is a raw_sync RwLock (the header says so).
        let _in = unsafe { rwlock_within(&*lock, Access::Read, PROCESS_TIMEOUT, "reading")? };
        let waiting = s.asking.load(Ordering::Acquire) == 1;
        if waiting && s.writer_inside.load(Ordering::Acquire) == 0 {
            s.before_writer.fetch_add(1, Ordering::AcqRel);
        }
        if s.inside.fetch_add(1, Ordering::AcqRel) == 0 && !waiting {
            // The first reader keeps the lock until the writer sleeps, waiting for it.
            wait::until("the writer to wait", PROCESS_TIMEOUT, || {
                s.asking.load(Ordering::Acquire) == 1 && asleep(s.sleeper.load(Ordering::Acquire))
            })?;
        }
        // The other reader's turn. Hand over: stay until it is in (at most 1 s).
        let lap = s.entered.fetch_add(1, Ordering::AcqRel) + 1;
        let _ = wait::until("the next reader", Duration::from_secs(1), || {
            let now = s.entered.load(Ordering::Acquire);
            now > lap || now > LAPS
        });
        std::thread::sleep(Duration::from_millis(5));
        s.inside.fetch_sub(1, Ordering::AcqRel);
    }
}
// ANCHOR_END: relay

// ANCHOR: starved
pub fn starved(name: &str) -> Result<()> {
    let (shmem, lock) = attach(name)?;
    let s = shared(&shmem);
    attach_and_wait_for_go(s)?;
    wait::until("the first reader", PROCESS_TIMEOUT, || {
        s.inside.load(Ordering::Acquire) >= 1
    })?;
    s.sleeper.store(procfs_pid(), Ordering::Release); // for the readers' `asleep`
    s.asking.store(1, Ordering::Release);
    // SAFETY: `lock` is a raw_sync RwLock (the header says so).
    let _in = unsafe { rwlock_within(&*lock, Access::Write, PROCESS_TIMEOUT, "writing")? };
    s.writer_inside.store(1, Ordering::Release);
    let lap = s.entered.load(Ordering::Acquire);
    s.data.store(u64::from(lap), Ordering::Release); // how far the relay got first
    std::thread::sleep(Duration::from_millis(5));
    Ok(())
}
// ANCHOR_END: starved
