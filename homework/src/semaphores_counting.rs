// Generated from solutions/ by `cargo run -p grade -- starter`: in the book's
// repository edit solutions/ instead. Students: this file is yours to complete.

//! Semaphores, exercise 2: a counting semaphore from `raw_sync`'s `Mutex` and `Event`.
//!
//! `raw_sync` has no semaphore. Build one: a permit count guarded by a `Mutex`, and an
//! auto-reset `Event` that wakes a waiter when a permit comes back. The grader checks
//! that `acquire` without a permit times out, that a release wakes a waiter at once,
//! then starts eight worker processes on a semaphore with two or three permits; each
//! enters three times and holds its permit for a few milliseconds. No more may ever be
//! inside at once than there are permits, as many must be inside together at some
//! point, and all must finish in time: a waiter must be woken when a permit comes back,
//! not find it by chance later.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use raw_sync::events::{Event, EventImpl, EventInit, EventState};
use raw_sync::locks::{LockImpl, LockInit, Mutex};
use raw_sync::Timeout;
use shared_memory::Shmem;
use shmbook::sync::SyncContext;

// ANCHOR: layout
/// The permit count (`u32`) lives here, guarded by the mutex at offset 0.
pub const COUNT_OFFSET: usize = 64;
/// The event lives here.
pub const EVENT_OFFSET: usize = 128;
/// Bytes the semaphore needs at the start of its segment.
pub const SIZE: usize = 256;

/// A counting semaphore in a segment: mutex at 0, count at [`COUNT_OFFSET`], event at
/// [`EVENT_OFFSET`].
pub struct Semaphore<'a> {
    lock: Box<dyn LockImpl>,
    event: Box<dyn EventImpl>,
    _segment: PhantomData<&'a Shmem>,
}
// ANCHOR_END: layout

// ANCHOR: task
impl<'a> Semaphore<'a> {
    /// Sets up a semaphore with `permits` permits in a fresh segment.
    pub fn create(segment: &'a Shmem, permits: u32) -> anyhow::Result<Semaphore<'a>> {
        todo!("initialise the Mutex, the count and an auto-reset Event")
    }

    /// Uses a semaphore another process set up with [`Semaphore::create`].
    pub fn open(segment: &'a Shmem) -> anyhow::Result<Semaphore<'a>> {
        todo!("attach to the existing Mutex and Event")
    }

    /// Takes a permit, waiting at most `timeout` for one; then it is an error.
    pub fn acquire(&self, timeout: Duration) -> anyhow::Result<()> {
        todo!("take a permit under the lock; if none is left, wait on the event")
    }

    /// Gives a permit back and wakes one waiter.
    pub fn release(&self) -> anyhow::Result<()> {
        todo!("return the permit under the lock, then signal the event")
    }
}
// ANCHOR_END: task
