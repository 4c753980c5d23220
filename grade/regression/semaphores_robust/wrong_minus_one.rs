// WRONG (assumes where it died): on EOWNERDEAD takes 1 off left, right only when the holder died between its two additions, not before the first or after the second.
// expect: fail counters read | repaired
//! Semaphores, exercise 3: go on after the lock's holder was killed.
//!
//! A process killed while it holds a `raw_sync` mutex leaves it locked for ever. A
//! robust pthread mutex is handed to the next locker instead, with the error
//! `EOWNERDEAD`: that caller now holds the lock, but the data it guards may be half
//! updated. It repairs the data, then calls `pthread_mutex_consistent`; a robust mutex
//! unlocked without that call is unusable for ever after (`ENOTRECOVERABLE`).
//!
//! Here the mutex guards two counters of the same updates: an update adds 1 to `left`,
//! then 1 to `right`, so they are equal whenever nobody holds the lock. The grader
//! kills processes while they hold the lock between the two additions — once while
//! nobody waits, once while another process waits — and checks that the next locker
//! repaired the counters and that the mutex works on. Linux only.

use anyhow::bail;

// ANCHOR: task
/// What the segment holds: the mutex, then the two counters it guards.
#[repr(C)]
pub struct Shared {
    pub mutex: libc::pthread_mutex_t,
    /// Updates begun: an update adds 1 here first.
    pub left: u64,
    /// Updates finished: then 1 here. Equal to `left` whenever the lock is free.
    pub right: u64,
}

/// Sets up the mutex: shared between processes, and robust.
///
/// # Safety
/// `shared` points to a zeroed `Shared` in a shared mapping that no other process uses
/// yet, and stays mapped.
pub unsafe fn init(shared: *mut Shared) -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        let a = attr.as_mut_ptr();
        // SAFETY: `a` is writable memory for an attribute object, initialized by the
        // first call; `shared` is ours alone (the caller's promise).
        unsafe {
            errno("pthread_mutexattr_init", libc::pthread_mutexattr_init(a))?;
            let set_up = errno(
                "pthread_mutexattr_setpshared",
                libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
            )
            .and_then(|()| {
                errno(
                    "pthread_mutexattr_setrobust",
                    libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
                )
            })
            .and_then(|()| {
                errno(
                    "pthread_mutex_init",
                    libc::pthread_mutex_init(&raw mut (*shared).mutex, a),
                )
            });
            libc::pthread_mutexattr_destroy(a);
            set_up
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = shared;
        bail!("robust mutexes: not supported on this system")
    }
}

/// Locks the mutex. When its holder died holding it, makes the counters equal again
/// and marks the mutex consistent; returns whether it had to.
///
/// # Safety
/// `init` has set up `shared`, which stays mapped.
pub unsafe fn lock(shared: *mut Shared) -> anyhow::Result<bool> {
    #[cfg(target_os = "linux")]
    // SAFETY: the mutex is initialized and mapped (the caller's promise); the counters
    // are touched only while this process holds the lock.
    unsafe {
        let mutex = &raw mut (*shared).mutex;
        match libc::pthread_mutex_lock(mutex) {
            0 => Ok(false),
            libc::EOWNERDEAD => {
                // The dead holder was half-way: take back its addition to `left`.
                (*shared).left -= 1;
                errno(
                    "pthread_mutex_consistent",
                    libc::pthread_mutex_consistent(mutex),
                )?;
                Ok(true)
            }
            rc => errno("pthread_mutex_lock", rc).map(|()| false),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = shared;
        bail!("robust mutexes: not supported on this system")
    }
}

/// Unlocks the mutex.
///
/// # Safety
/// This thread holds the lock (a `lock` returned `Ok`).
pub unsafe fn unlock(shared: *mut Shared) -> anyhow::Result<()> {
    // SAFETY: the mutex is initialized and held by this thread (the caller's promise).
    errno("pthread_mutex_unlock", unsafe {
        libc::pthread_mutex_unlock(&raw mut (*shared).mutex)
    })
}
// ANCHOR_END: task

/// A pthread call's result (an error number, 0 for success) as a `Result`.
pub fn errno(call: &str, rc: i32) -> anyhow::Result<()> {
    if rc != 0 {
        bail!("{call}: {}", std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}
