//! A POSIX semaphore that lives *inside* a shared-memory segment.
//!
//! `raw_sync` has mutexes, read-write locks and events, but no semaphore. POSIX offers
//! two kinds: a *named* one (`sem_open("/name")`, a file in `/dev/shm` on Linux that
//! must be removed with `sem_unlink`), and an *unnamed* one (`sem_init`), a `sem_t` placed
//! in memory that the processes share, with `pshared = 1`. The book uses the unnamed
//! kind: it lives and dies with the segment, so there is nothing extra to remove when a
//! process is killed.
//!
//! macOS declares `sem_init` but does not implement it (it fails with `ENOSYS`), and
//! has no `sem_timedwait`; on macOS, [`Semaphore::init`] says "not supported on this
//! system". There a named semaphore (`sem_open`) is the only POSIX choice.

use std::marker::PhantomData;
use std::time::Duration;

use anyhow::{bail, Result};
use shared_memory::Shmem;

/// Bytes a [`Semaphore`] needs in the segment (at an 8-byte aligned offset).
#[cfg(not(target_vendor = "apple"))]
pub const SIZE: usize = std::mem::size_of::<libc::sem_t>();
/// Bytes a [`Semaphore`] needs in the segment (at an 8-byte aligned offset).
#[cfg(target_vendor = "apple")]
pub const SIZE: usize = 32;

/// A process-shared, unnamed POSIX semaphore at an address inside a shared mapping.
///
/// It is a thin handle, tied to the mapping `'m` it lives in (as the Arrays chapter's
/// `Array<'a>` is): it cannot outlive the `Shmem`, so a safe `post` never touches
/// unmapped memory. Copying it is fine, and dropping it does nothing. The creator calls
/// [`Semaphore::destroy`] once every process is done with it.
#[derive(Clone, Copy)]
pub struct Semaphore<'m> {
    #[cfg_attr(target_vendor = "apple", allow(dead_code))]
    sem: *mut u8,
    _mapping: PhantomData<&'m Shmem>,
}

impl<'m> Semaphore<'m> {
    /// Creates a semaphore with count `value` at `at` in `mapping` (`sem_init` with
    /// `pshared = 1`). Fails if `at` is not 8-aligned with [`SIZE`] bytes inside it.
    ///
    /// # Safety
    /// `mapping` must be shared by every process that will use the semaphore, and no
    /// other process may use those bytes before `init` returns.
    pub unsafe fn init(mapping: &'m Shmem, at: *mut u8, value: u32) -> Result<Semaphore<'m>> {
        crate::semaphores::place(mapping, at, SIZE)?;
        #[cfg(not(target_vendor = "apple"))]
        {
            // SAFETY: `at` is aligned with SIZE bytes inside the mapping (checked), and
            // ours alone for now (the caller's promise).
            if unsafe { libc::sem_init(at.cast(), 1, value) } != 0 {
                bail!("sem_init: {}", std::io::Error::last_os_error());
            }
            Ok(Semaphore {
                sem: at,
                _mapping: PhantomData,
            })
        }
        #[cfg(target_vendor = "apple")]
        {
            let _ = (at, value);
            bail!("unnamed process-shared semaphores (sem_init) are not supported on this system")
        }
    }

    /// A handle to a semaphore another process created with [`Semaphore::init`].
    ///
    /// # Safety
    /// `at` must be where the creator called `init` in the same segment (`mapping`
    /// here), and `init` must have returned before this handle is used.
    pub unsafe fn attach(mapping: &'m Shmem, at: *mut u8) -> Semaphore<'m> {
        let _ = mapping;
        Semaphore {
            sem: at,
            _mapping: PhantomData,
        }
    }

    /// [`Semaphore::attach`], after checking that the bytes at `at` look like a
    /// process-shared semaphore, so that garbage gives an error instead of an abort.
    ///
    /// glibc's `sem_post` and `sem_wait` pass a field of the `sem_t` to the `futex`
    /// system call as part of the operation, and abort the process ("The futex facility
    /// returned an unexpected error code") when the kernel refuses it. On glibc with
    /// 64-bit atomics a `sem_t` is a 64-bit word (the count in its low half, the number
    /// of waiters in its high half) followed by that field as an `int`. This compares
    /// the field with the one `sem_init(.., 1, ..)` writes into a semaphore of our own,
    /// and checks that the count is at most `SEM_VALUE_MAX`. Elsewhere the layout is
    /// not the book's to know, and this is `attach`.
    ///
    /// # Safety
    /// As for [`Semaphore::attach`], except that the bytes may be anything (their place
    /// is checked as in `init`).
    pub unsafe fn open(mapping: &'m Shmem, at: *mut u8) -> Result<Semaphore<'m>> {
        crate::semaphores::place(mapping, at, SIZE)?;
        #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
        {
            use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
            let mut reference = [0u64; 8]; // 64 bytes, 8-aligned: more than a sem_t
            let mine: *mut u8 = reference.as_mut_ptr().cast();
            // SAFETY: `mine` is our own aligned memory, larger than a sem_t; nobody
            // else sees it, and it is destroyed before it goes out of scope.
            let wanted = unsafe {
                if libc::sem_init(mine.cast(), 1, 0) != 0 {
                    bail!("sem_init: {}", std::io::Error::last_os_error());
                }
                let wanted = *(mine.add(8) as *const i32);
                libc::sem_destroy(mine.cast());
                wanted
            };
            // SAFETY: `at` is 8-aligned with SIZE (32) bytes mapped (the caller's
            // promise); atomics read whatever bytes are there, also while other
            // processes use the semaphore.
            let (data, flag) = unsafe {
                (
                    (*(at as *const AtomicU64)).load(Ordering::Relaxed),
                    (*(at.add(8) as *const AtomicI32)).load(Ordering::Relaxed),
                )
            };
            if flag != wanted || (data & 0xffff_ffff) > i32::MAX as u64 {
                bail!(
                    "the bytes there are not a process-shared semaphore \
                     (count word {data:#x}, futex flag {flag}, not {wanted})"
                );
            }
        }
        // SAFETY: the caller's promise, and the check above where there is one.
        Ok(unsafe { Semaphore::attach(mapping, at) })
    }

    /// Takes one unit, waiting as long as it takes (`sem_wait`). For hot loops whose
    /// process is itself bounded (a helper the parent kills after a time limit).
    pub fn wait(&self) -> Result<()> {
        #[cfg(not(target_vendor = "apple"))]
        loop {
            // SAFETY: `sem` was set up by sem_init and stays mapped (contract of init/attach).
            if unsafe { libc::sem_wait(self.sem.cast()) } == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                bail!("sem_wait: {e}");
            }
        }
        #[cfg(target_vendor = "apple")]
        bail!("not supported on this system")
    }

    /// Takes one unit, waiting at most `timeout` (`sem_timedwait`). Fails with a clear
    /// error when the time is over.
    pub fn wait_within(&self, timeout: Duration, what: &str) -> Result<()> {
        #[cfg(not(target_vendor = "apple"))]
        {
            let deadline = crate::locks::deadline(timeout);
            loop {
                // SAFETY: as in `wait`; `deadline` is a valid, normalized timespec.
                if unsafe { libc::sem_timedwait(self.sem.cast(), &deadline) } == 0 {
                    return Ok(());
                }
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ETIMEDOUT) => bail!(
                        "timed out after {} s waiting for {what}",
                        timeout.as_secs_f64()
                    ),
                    _ => bail!("sem_timedwait for {what}: {e}"),
                }
            }
        }
        #[cfg(target_vendor = "apple")]
        {
            let _ = (timeout, what);
            bail!("not supported on this system")
        }
    }

    /// Gives back one unit (`sem_post`). Any process may call it, also one that never
    /// called `wait`: a semaphore has no owner.
    pub fn post(&self) -> Result<()> {
        #[cfg(not(target_vendor = "apple"))]
        {
            // SAFETY: as in `wait`.
            if unsafe { libc::sem_post(self.sem.cast()) } != 0 {
                bail!("sem_post: {}", std::io::Error::last_os_error());
            }
            Ok(())
        }
        #[cfg(target_vendor = "apple")]
        bail!("not supported on this system")
    }

    /// The current count (`sem_getvalue`).
    pub fn value(&self) -> Result<i32> {
        #[cfg(not(target_vendor = "apple"))]
        {
            let mut v: libc::c_int = 0;
            // SAFETY: as in `wait`; `v` is a writable int.
            if unsafe { libc::sem_getvalue(self.sem.cast(), &mut v) } != 0 {
                bail!("sem_getvalue: {}", std::io::Error::last_os_error());
            }
            Ok(v)
        }
        #[cfg(target_vendor = "apple")]
        bail!("not supported on this system")
    }

    /// Destroys the semaphore (`sem_destroy`). Only the creator calls it, after every
    /// other process is done with it and before the segment is unmapped.
    ///
    /// # Safety
    /// No process may use the semaphore after this call.
    pub unsafe fn destroy(self) {
        #[cfg(not(target_vendor = "apple"))]
        // SAFETY: the caller guarantees nobody uses it any more; it was initialized.
        unsafe {
            libc::sem_destroy(self.sem.cast());
        }
    }
}
