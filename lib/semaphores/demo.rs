//! The `semaphores` example's segment: a checked header ([`super::Layout`]), then the flags and
//! counters of [`Shared`], then one lock at `OBJECT_AT`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::{body, Layout};
use crate::cleanup::Tracked;
use crate::{wait, PROCESS_TIMEOUT};
use anyhow::Result;
use shared_memory::Shmem;

/// Every demo's segment: one page, with the header `shmbsem1` (layout 1).
const SEGMENT: Layout = Layout {
    magic: *b"shmbsem1",
    size: 4096,
};

/// The lock a segment holds, as its header says; each helper role checks it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Semaphore = 1,
    ErrorCheck = 2,
    RwLock = 3,
    Event = 4,
    RawMutex = 5,
    Robust = 6,
}

/// Flags and counters at the start of every demo's body; the lock follows.
#[repr(C)]
pub struct Shared {
    pub ready: AtomicU32,
    pub go: AtomicU32,
    pub inside: AtomicU32,
    pub most_inside: AtomicU32,
    pub writer_inside: AtomicU32,
    pub seen_wrong: AtomicU32,
    pub late_waited: AtomicU32,
    pub room: AtomicU32,
    pub workers: AtomicU32,
    pub entered: AtomicU32,
    pub data: AtomicU64,
    /// `starve`: the writer has asked for the lock.
    pub asking: AtomicU32,
    /// `starve`: readers that got in while the writer was waiting.
    pub before_writer: AtomicU32,
    /// The process whose sleep a parent waits for (see [`asleep`]), as `/proc` knows it.
    pub sleeper: AtomicU32,
}

/// Where the semaphore, mutex, read-write lock or event lives in the body.
const OBJECT_AT: usize = 128;
const _: () = assert!(
    std::mem::size_of::<Shared>() <= OBJECT_AT,
    "the flags overlap the lock"
);

/// How long each worker, reader or writer stays inside.
pub const INSIDE_FOR: Duration = Duration::from_millis(60);

/// A fresh segment for a demo, removed on every way out; its header is still blank.
pub fn create() -> Result<Tracked<Shmem>> {
    SEGMENT.create("semaphor")
}

/// Says in the header that the segment holds `object`, now set up.
pub fn publish(shmem: &Shmem, object: Object) {
    SEGMENT.publish(shmem, object as u32);
}

/// Opens a demo's segment, checking its length and that its header names `object`.
pub fn open(name: &str, object: Object) -> Result<Shmem> {
    SEGMENT.open_kind(name, object as u32)
}

/// Opens a demo's segment holding one of `locks`; says which.
pub fn open_any(name: &str, locks: &[Object]) -> Result<(Shmem, Object)> {
    let (shmem, kind) = SEGMENT.open(name)?;
    match locks.iter().find(|l| **l as u32 == kind) {
        Some(&lock) => Ok((shmem, lock)),
        None => anyhow::bail!("{name} holds lock kind {kind}, which this role does not take"),
    }
}

pub fn shared(shmem: &Shmem) -> &Shared {
    // SAFETY: the body is 8-aligned and far larger than `Shared`, whose fields are all
    // atomics (valid for any bytes, zero on creation) and may be used by several
    // processes at once; the borrow cannot outlive the mapping.
    unsafe { &*(body(shmem) as *const Shared) }
}

/// The lock's place: 8-aligned, with room for the largest (an Event, under 128 bytes).
pub fn object(shmem: &Shmem) -> *mut u8 {
    // SAFETY: header + OBJECT_AT + 128 bytes < 4096, the segment's checked length.
    unsafe { body(shmem).add(OBJECT_AT) }
}

/// Waits (bounded) until `n` helpers have attached, then tells them all to go.
pub fn start_together(s: &Shared, n: u32) -> Result<()> {
    wait::until("the helpers to attach", PROCESS_TIMEOUT, || {
        s.ready.load(Ordering::Acquire) == n
    })?;
    s.go.store(1, Ordering::Release);
    Ok(())
}

/// A helper's side of [`start_together`]. It also publishes, in `sleeper`, its process
/// id as `/proc` knows it, for a parent's [`asleep`]: in a PID namespace whose `/proc`
/// is the host's (the hostile tests' sandbox), that differs from the id the parent got
/// from `spawn`.
pub fn attach_and_wait_for_go(s: &Shared) -> Result<()> {
    s.sleeper.store(procfs_pid(), Ordering::Release);
    s.ready.fetch_add(1, Ordering::AcqRel);
    wait::until("the parent's go", PROCESS_TIMEOUT, || {
        s.go.load(Ordering::Acquire) == 1
    })
}

/// This process's id in the `/proc` that [`asleep`] reads: `/proc/self` names it.
pub fn procfs_pid() -> u32 {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok())
        .unwrap_or_else(std::process::id)
}

/// Whether process `pid` (as `/proc` knows it, see [`procfs_pid`]) is asleep, for a demo that must know another process is
/// blocked in the kernel before it goes on. Linux: its state is `S` in
/// `/proc/PID/stat`. Elsewhere it cannot tell: it waits 100 ms and says yes.
pub fn asleep(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the command name, which is in parentheses.
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('S'))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        std::thread::sleep(Duration::from_millis(100));
        true
    }
}
