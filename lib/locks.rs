//! Bounded waits on `raw_sync` locks, working around its timeout defect.
//!
//! `raw_sync` 0.1.5 turns a `Timeout::Val(d)` into an absolute time by adding
//! `d.subsec_nanos()` to the clock's nanoseconds without carrying into the seconds
//! (`src/locks/unix.rs`, `abs_timespec_from_duration`, lines 85–86). Whenever the sum
//! reaches one second the `timespec` is invalid and the wait fails at once with
//! `EINVAL` (error 22) instead of waiting. A timeout of 0.5 s fails about half the time,
//! one just under 1 s almost always; whole seconds (`subsec_nanos() == 0`) and zero are
//! always right.
//!
//! [`lock_within`] and [`read_within`] avoid the defect: they ask `raw_sync` with a zero
//! timeout (an absolute time of "now", which is always valid: the lock is taken if it is
//! free) and retry with short sleeps until the time limit. That is polling, and it costs:
//! a lock released just after an attempt is noticed only at the next one (up to 5 ms
//! later), and a poller is not queued in the kernel, so a process that blocks in
//! `lock()` or that arrives between two attempts is served first, every time.
//!
//! [`mutex_within`] and [`rwlock_within`] are the better fix: one
//! `pthread_mutex_timedlock` (or `pthread_rwlock_timed{rd,wr}lock`) with a deadline
//! [`deadline`] computes correctly. The caller sleeps in the kernel's queue and is woken
//! when the lock is released.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use raw_sync::locks::{LockGuard, LockImpl, ReadLockGuard};
use raw_sync::Timeout;

/// The absolute `CLOCK_REALTIME` time `timeout` from now, normalized
/// (`0 <= tv_nsec < 1_000_000_000`), as `sem_timedwait` and `pthread_*_timedlock` need.
///
/// Those calls measure their deadline on `CLOCK_REALTIME`, the wall clock, which an
/// administrator or NTP may set back or forward while a process waits: the wait then
/// lasts longer or shorter than asked. glibc 2.30 added `sem_clockwait` and
/// `pthread_mutex_clocklock`, which can take `CLOCK_MONOTONIC` instead; POSIX adopted
/// them in its 2024 edition. The `libc` crate (0.2.191) does not declare them for Linux,
/// so the book stays with the realtime calls and short timeouts.
pub fn deadline(timeout: Duration) -> libc::timespec {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .expect("CLOCK_REALTIME always exists");
    let nanos = now.tv_nsec() as u64 + u64::from(timeout.subsec_nanos());
    libc::timespec {
        tv_sec: now.tv_sec() + (timeout.as_secs() + nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as _,
    }
}

/// Checks that the bytes at `at` hold a pthread mutex of the same kind as `reference`,
/// a mutex this process initialized itself with the same attributes.
///
/// glibc's `pthread_mutex_lock` trusts a mutex's kind word: garbage there sends it down
/// paths (priority inheritance, robust lists) whose assertions abort the process. With
/// glibc on 64-bit systems the kind is the `int` at byte 16 of a `pthread_mutex_t`;
/// this compares it with the reference's. Elsewhere the layout is not the book's to
/// know, and this checks nothing.
///
/// # Safety
/// Both must point to `size_of::<pthread_mutex_t>()` readable, 8-aligned bytes; `at`
/// may be in use by other processes.
pub unsafe fn same_mutex_kind(at: *const u8, reference: *const u8) -> Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    {
        use std::sync::atomic::{AtomicI32, Ordering};
        // SAFETY: both are 8-aligned with the mutex's 40 bytes readable (the caller's
        // promise); an atomic read is fine while other processes use `at`.
        let (found, wanted) = unsafe {
            (
                (*(at.add(16) as *const AtomicI32)).load(Ordering::Relaxed),
                *(reference.add(16) as *const i32),
            )
        };
        if found != wanted {
            bail!("the bytes there are not the expected mutex (kind {found:#x}, not {wanted:#x})");
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
    let _ = (at, reference);
    Ok(())
}

/// [`same_mutex_kind`] for a mutex `raw_sync`'s `Mutex::new` made (process-shared, of
/// the default type); `raw_sync::Event` starts with one too.
///
/// # Safety
/// As for [`same_mutex_kind`].
pub unsafe fn check_raw_sync_mutex(at: *const u8) -> Result<()> {
    use raw_sync::locks::{LockInit, Mutex};
    let mut reference = [0u64; 16]; // 128 bytes, 8-aligned: room for any pthread_mutex_t
    let base: *mut u8 = reference.as_mut_ptr().cast();
    // SAFETY: `base` is this process's own aligned, writable memory, larger than a
    // pthread_mutex_t; nobody else sees it; raw_sync's Drop leaves it alone.
    unsafe { Mutex::new(base, std::ptr::null_mut()) }
        .map_err(|e| anyhow::anyhow!("making a reference mutex: {e}"))?;
    // SAFETY: the caller's promise for `at`; `base` is initialized above.
    unsafe { same_mutex_kind(at, base) }
}

fn poll<G>(
    timeout: Duration,
    what: &str,
    mut attempt: impl FnMut() -> Result<G, Box<dyn std::error::Error>>,
) -> Result<G> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        let last = match attempt() {
            Ok(guard) => return Ok(guard),
            Err(e) => e.to_string(),
        };
        if start.elapsed() >= timeout {
            bail!(
                "timed out after {} s waiting for {what} (last attempt: {last})",
                timeout.as_secs_f64()
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Takes `lock` (a `raw_sync` `Mutex`, or an `RwLock` for writing), waiting at most
/// `timeout`; `what` names the lock for the error.
pub fn lock_within<'a>(
    lock: &'a dyn LockImpl,
    timeout: Duration,
    what: &str,
) -> Result<LockGuard<'a>> {
    poll(timeout, what, || {
        lock.try_lock(Timeout::Val(Duration::ZERO))
    })
}

/// Takes `lock` (a `raw_sync` `RwLock`) for reading, waiting at most `timeout`.
pub fn read_within<'a>(
    lock: &'a dyn LockImpl,
    timeout: Duration,
    what: &str,
) -> Result<ReadLockGuard<'a>> {
    poll(timeout, what, || {
        lock.try_rlock(Timeout::Val(Duration::ZERO))
    })
}

/// A lock taken by [`mutex_within`] or [`rwlock_within`]; dropping it unlocks.
pub struct Held<'a>(&'a dyn LockImpl);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.release() {
            eprintln!("warning: unlocking: {e}");
        }
    }
}

/// What [`rwlock_within`] takes a read-write lock for.
#[derive(Clone, Copy)]
pub enum Access {
    Read,
    Write,
}

#[cfg(target_os = "linux")]
fn timed<'a>(lock: &'a dyn LockImpl, timeout: Duration, what: &str, rc: i32) -> Result<Held<'a>> {
    match rc {
        0 => Ok(Held(lock)),
        libc::ETIMEDOUT => bail!(
            "timed out after {} s waiting for {what}",
            timeout.as_secs_f64()
        ),
        _ => bail!("waiting for {what}: {}", describe(rc)),
    }
}

// ANCHOR: mutex_within
/// Takes `mutex` (a `raw_sync` `Mutex`), waiting at most `timeout`: one
/// `pthread_mutex_timedlock` with a normalized deadline, asleep in the kernel until the
/// lock is released or the deadline passes.
///
/// # Safety
/// `mutex` must be a `raw_sync` `Mutex` (its `as_raw` is a `pthread_mutex_t`), not an
/// `RwLock`; `raw_sync` returns both as `dyn LockImpl`.
#[cfg(target_os = "linux")]
pub unsafe fn mutex_within<'a>(
    mutex: &'a dyn LockImpl,
    timeout: Duration,
    what: &str,
) -> Result<Held<'a>> {
    let deadline = deadline(timeout);
    // SAFETY: the caller's promise that as_raw is an initialized pthread_mutex_t, which
    // raw_sync keeps mapped while `mutex` lives; `deadline` is normalized.
    let rc = unsafe { libc::pthread_mutex_timedlock(mutex.as_raw().cast(), &deadline) };
    timed(mutex, timeout, what, rc)
}
// ANCHOR_END: mutex_within

#[cfg(target_os = "linux")]
extern "C" {
    // POSIX calls, in glibc and musl; the `libc` crate does not declare them for Linux.
    fn pthread_rwlock_timedrdlock(l: *mut libc::pthread_rwlock_t, at: *const libc::timespec)
        -> i32;
    fn pthread_rwlock_timedwrlock(l: *mut libc::pthread_rwlock_t, at: *const libc::timespec)
        -> i32;
}

/// Takes `lock` (a `raw_sync` `RwLock`) for `access`, waiting at most `timeout`: one
/// `pthread_rwlock_timedrdlock` or `pthread_rwlock_timedwrlock`.
///
/// # Safety
/// `lock` must be a `raw_sync` `RwLock` (its `as_raw` is a `pthread_rwlock_t`).
#[cfg(target_os = "linux")]
pub unsafe fn rwlock_within<'a>(
    lock: &'a dyn LockImpl,
    access: Access,
    timeout: Duration,
    what: &str,
) -> Result<Held<'a>> {
    let (deadline, raw) = (deadline(timeout), lock.as_raw().cast());
    // SAFETY: the caller's promise that `raw` is an initialized pthread_rwlock_t, kept
    // mapped while `lock` lives; `deadline` is normalized.
    let rc = unsafe {
        match access {
            Access::Read => pthread_rwlock_timedrdlock(raw, &deadline),
            Access::Write => pthread_rwlock_timedwrlock(raw, &deadline),
        }
    };
    timed(lock, timeout, what, rc)
}

/// `Ok` when a pthread call returned 0; else an error naming the call and the error
/// number it returned ("pthread_mutex_lock: EDEADLK (Resource deadlock avoided)").
pub fn check(call: &str, rc: i32) -> Result<()> {
    if rc != 0 {
        bail!("{call}: {}", describe(rc));
    }
    Ok(())
}

/// "EPERM (Operation not permitted)".
pub fn describe(rc: i32) -> String {
    let name = match rc {
        #[cfg(target_os = "linux")]
        libc::EOWNERDEAD => "EOWNERDEAD",
        #[cfg(target_os = "linux")]
        libc::ENOTRECOVERABLE => "ENOTRECOVERABLE",
        _ => crate::os::errno_name(rc),
    };
    let text = std::io::Error::from_raw_os_error(rc).to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    format!("{name} ({text})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_normalized() {
        for ms in [0, 1, 499, 999, 1000, 1999, 25_000] {
            let t = deadline(Duration::from_millis(ms));
            assert!((0..1_000_000_000).contains(&t.tv_nsec), "{ms} ms");
        }
    }
}
