// Generated from solutions/ by `cargo run -p grade -- starter`: in the book's
// repository edit solutions/ instead. Students: this file is yours to complete.

//! Semaphores, exercise 1: a counter in shared memory, guarded by `raw_sync`'s `Mutex`.
//!
//! One process creates the counter in a segment; others open it and add to it at the
//! same time. The grader starts four processes together that each add their own step
//! forty thousand times and checks that no addition was lost; then it holds the lock
//! itself while another process opens the counter and adds, which must wait.

use std::marker::PhantomData;

use anyhow::ensure;
use raw_sync::locks::{LockImpl, LockInit, Mutex};
use shared_memory::Shmem;
use shmbook::sync::SyncContext;

// ANCHOR: layout
/// Where the counter's value lives in the segment: after the mutex, which takes
/// `Mutex::size_of(None)` bytes (40 on x86_64 Linux) from offset 0.
pub const VALUE_OFFSET: usize = 64;

/// A `u64` counter at [`VALUE_OFFSET`] of a segment, guarded by a process-shared mutex
/// at offset 0. It borrows the segment, so it cannot outlive the mapping.
pub struct Counter<'a> {
    lock: Box<dyn LockImpl>,
    _segment: PhantomData<&'a Shmem>,
}
// ANCHOR_END: layout

// ANCHOR: task
impl<'a> Counter<'a> {
    /// Sets up the mutex and a value of 0 in a fresh segment (its creator does this once).
    pub fn create(segment: &'a Shmem) -> anyhow::Result<Counter<'a>> {
        todo!("initialise a raw_sync Mutex at offset 0 guarding the value")
    }

    /// Uses the mutex another process set up with [`Counter::create`].
    pub fn open(segment: &'a Shmem) -> anyhow::Result<Counter<'a>> {
        todo!("attach to the existing Mutex without initialising it again")
    }

    /// Adds `n` to the value. Other processes may be adding at the same time.
    pub fn add(&self, n: u64) -> anyhow::Result<()> {
        todo!("read and write the value while holding the lock")
    }

    /// The current value.
    pub fn get(&self) -> anyhow::Result<u64> {
        todo!("read the value while holding the lock")
    }
}
// ANCHOR_END: task
