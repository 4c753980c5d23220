//! A pthread mutex set up by hand (section "A semaphore has no owner"), for the kinds
//! `raw_sync` cannot make: error-checking and robust.

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use anyhow::Result;
use shared_memory::Shmem;
use shmbook::locks::check;

// ANCHOR: pmutex
/// A process-shared pthread mutex set up by hand, of a kind raw_sync cannot make;
/// the handle borrows the mapping it lives in, so it cannot outlive it.
pub struct PMutex<'m>(pub *mut libc::pthread_mutex_t, PhantomData<&'m Shmem>);

#[derive(Clone, Copy)]
pub enum Kind {
    /// PTHREAD_MUTEX_ERRORCHECK: misuse returns an error instead of undefined behaviour.
    ErrorCheck,
    /// PTHREAD_MUTEX_ROBUST: if the holder dies, the next locker is told (EOWNERDEAD).
    Robust,
}

impl Kind {
    /// Sets this kind in the attribute object `a`.
    ///
    /// # Safety
    /// `a` must be an initialized `pthread_mutexattr_t`.
    unsafe fn set(self, a: *mut libc::pthread_mutexattr_t) -> Result<()> {
        // SAFETY: `a` is initialized (the caller's promise).
        unsafe {
            match self {
                Kind::ErrorCheck => check(
                    "pthread_mutexattr_settype",
                    libc::pthread_mutexattr_settype(a, libc::PTHREAD_MUTEX_ERRORCHECK),
                ),
                #[cfg(target_os = "linux")]
                Kind::Robust => check(
                    "pthread_mutexattr_setrobust",
                    libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
                ),
                #[cfg(not(target_os = "linux"))]
                Kind::Robust => anyhow::bail!("robust mutexes: not supported on this system"),
            }
        }
    }
}
// ANCHOR_END: pmutex

impl<'m> PMutex<'m> {
    // ANCHOR: init
    /// Initializes a process-shared mutex of `kind` at `at`, inside `mapping`.
    ///
    /// # Safety
    /// No other process may use the bytes at `at` before this returns.
    pub unsafe fn init(mapping: &'m Shmem, at: *mut u8, kind: Kind) -> Result<PMutex<'m>> {
        shmbook::semaphores::place(mapping, at, size_of::<libc::pthread_mutex_t>())?;
        // SAFETY: `at` is aligned, inside the mapping (checked), ours alone (promised).
        unsafe { init_at(at, kind)? };
        Ok(PMutex(at.cast(), PhantomData))
    }
    // ANCHOR_END: init

    /// A handle to a mutex another process initialized at `at` in `mapping`.
    ///
    /// # Safety
    /// `init` must have returned for this address of the same segment.
    pub unsafe fn attach(mapping: &'m Shmem, at: *mut u8) -> PMutex<'m> {
        let _ = mapping;
        PMutex(at.cast(), PhantomData)
    }

    /// [`PMutex::attach`], after checking that the bytes at `at` hold a mutex of `kind`
    /// (see `shmbook::locks::same_mutex_kind`).
    ///
    /// # Safety
    /// `at` may hold anything, but other processes may be using it.
    pub unsafe fn open(mapping: &'m Shmem, at: *mut u8, kind: Kind) -> Result<PMutex<'m>> {
        shmbook::semaphores::place(mapping, at, size_of::<libc::pthread_mutex_t>())?;
        let mut reference = [0u64; 16]; // 128 bytes, room for any pthread_mutex_t
        let base: *mut u8 = reference.as_mut_ptr().cast();
        // SAFETY: `base` is our own aligned memory, larger than a pthread_mutex_t.
        unsafe { init_at(base, kind)? };
        // SAFETY: `at` is aligned and mapped (checked), `base` initialized.
        let same = unsafe { shmbook::locks::same_mutex_kind(at, base) };
        // SAFETY: nobody but this function ever saw the reference mutex; it is unlocked.
        unsafe { libc::pthread_mutex_destroy(base.cast()) };
        same?;
        // SAFETY: the kind matches that of a mutex `init` made.
        Ok(unsafe { PMutex::attach(mapping, at) })
    }

    /// pthread_mutex_lock / unlock return an error number: 0 means success.
    pub fn lock(&self) -> i32 {
        // SAFETY: the mutex was initialized and stays mapped (init/attach contract).
        unsafe { libc::pthread_mutex_lock(self.0) }
    }

    pub fn unlock(&self) -> i32 {
        // SAFETY: as in `lock`.
        unsafe { libc::pthread_mutex_unlock(self.0) }
    }

    /// Destroys the OS object; raw_sync's Drop never does this for its own mutexes.
    ///
    /// # Safety
    /// No process uses the mutex any more, and it is unlocked.
    pub unsafe fn destroy(self) {
        // SAFETY: the caller's promise.
        unsafe { libc::pthread_mutex_destroy(self.0) };
    }
}

// ANCHOR: init_at
/// Makes the attribute object, marks it process-shared, sets the kind, initializes the
/// mutex at `at` with it and destroys the attributes again.
///
/// # Safety
/// `at` must be 8-aligned, writable, with room for a `pthread_mutex_t`, and no other
/// process may use it before this returns.
unsafe fn init_at(at: *mut u8, kind: Kind) -> Result<()> {
    // Written by pthread_mutexattr_init through a pointer and never read as a Rust
    // value, so it may stay uninitialized (raw_sync's `assume_init()` may not).
    let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    let a = attr.as_mut_ptr();
    // SAFETY: `a` is writable memory for an attribute object, initialized by the first
    // call before the others use it; `at` is valid and ours alone (the caller's
    // promise); the mutex keeps no reference to its attributes.
    unsafe {
        check("pthread_mutexattr_init", libc::pthread_mutexattr_init(a))?;
        let pshared = libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED);
        let set_up = check("pthread_mutexattr_setpshared", pshared)
            .and_then(|()| kind.set(a))
            .and_then(|()| check("pthread_mutex_init", libc::pthread_mutex_init(at.cast(), a)));
        libc::pthread_mutexattr_destroy(a);
        set_up
    }
}
// ANCHOR_END: init_at
