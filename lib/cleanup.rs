//! Guards that remove a segment on every way out of a function.
//!
//! `shared_memory` removes a segment when the *owner's* `Shmem` is dropped. That covers
//! most cases, but not all: a segment whose owner gave up ownership, one created by a
//! helper process that was killed, or one made with raw system calls. [`Unlink`] covers
//! those: it removes the name when it goes out of scope — on success, on an early `?`
//! return and while a panic unwinds.
//!
//! A guard does not run when the process is interrupted by a signal such as Ctrl-C.
//! [`install_interrupt_cleanup`] (installed by [`crate::cli::main`]) covers that: it
//! removes every name registered with [`remove_on_interrupt`] before the process exits.
//! Only `SIGKILL` (and a crash of the whole machine) leaves nothing a chance.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use crate::os;

/// Removes the segment `name` when dropped, unless [`Unlink::disarm`] was called.
#[must_use = "the segment is removed when this guard is dropped"]
pub struct Unlink {
    name: Option<String>,
}

impl Unlink {
    /// Guards `name`. The segment need not exist yet, and may be gone by the time
    /// the guard drops: a missing segment is not an error.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        remove_on_interrupt(&name);
        Unlink { name: Some(name) }
    }

    /// Keeps the segment: the guard no longer removes it.
    pub fn disarm(mut self) {
        self.name = None;
    }
}

impl Drop for Unlink {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            // A segment that is already gone is what we want; other errors cannot be
            // reported from a destructor, and a leftover shows up in the tests' check.
            let _ = os::shm_unlink(&name);
        }
    }
}

// ANCHOR: interrupt
/// Names to remove when the process is interrupted.
static ON_INTERRUPT: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The writing end of the self-pipe the signal handler writes to (-1: not installed).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

/// Removes `name` if the process is interrupted (Ctrl-C, `SIGTERM`, `SIGHUP`).
///
/// [`crate::names::unique`] registers every name it makes, and [`Unlink::new`] the name
/// it guards, so most examples need not call this. A name that is gone by then is
/// skipped. Works only in programs that run through [`crate::cli::main`], which installs
/// the handler.
pub fn remove_on_interrupt(name: &str) {
    if let Ok(mut names) = ON_INTERRUPT.lock() {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; `byte` is a valid one-byte buffer on this
    // handler's stack; a failed write (full pipe) only loses a duplicate signal.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// Installs handlers for `SIGINT`, `SIGTERM` and `SIGHUP` that remove the registered
/// names, print one line, and exit with status 128 + the signal's number (130 for
/// Ctrl-C), as a shell reports a process killed by that signal.
///
/// The handler itself only writes the signal's number to a pipe (the one thing a
/// signal handler may safely do here); a thread reads the pipe and does the cleanup.
/// Handlers do not survive `exec`, so helper processes start with the default ones
/// and install their own.
pub fn install_interrupt_cleanup(program: &'static str) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe(2) requires.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return; // without a pipe we cannot clean up on a signal; the guards still work
    }
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    let reader = fds[0];
    std::thread::spawn(move || {
        let mut byte = 0u8;
        // SAFETY: `reader` is the open reading end of our pipe; `byte` is a writable
        // one-byte buffer.
        let n = unsafe { libc::read(reader, (&mut byte as *mut u8).cast(), 1) };
        if n != 1 {
            return;
        }
        let names = ON_INTERRUPT.lock().map(|n| n.clone()).unwrap_or_default();
        let removed = names
            .iter()
            .filter(|n| os::shm_exists(n).unwrap_or(false) && os::shm_unlink(n).is_ok())
            .count();
        let signal = libc::c_int::from(byte);
        eprintln!(
            "{program}: interrupted by signal {signal}; removed {removed} segment(s) it had made"
        );
        std::process::exit(128 + signal);
    });
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that only calls write(2),
        // which is async-signal-safe; signal(3) just records it as the handler.
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
}
// ANCHOR_END: interrupt
