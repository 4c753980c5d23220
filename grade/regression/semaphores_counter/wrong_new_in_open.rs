// WRONG (race): open initialises the mutex again (Mutex::new), under the feet of its holders.
// expect: fail did not wait
//! Semaphores, exercise 1: a counter in shared memory, guarded by `raw_sync`'s `Mutex`.
//!
//! One process creates the counter in a segment; others open it and add to it at the
//! same time. The grader starts four processes that each add 1 two thousand times and
//! checks that none of the 8000 additions was lost.

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
        ensure!(Mutex::size_of(None) <= VALUE_OFFSET && segment.len() >= VALUE_OFFSET + 8);
        let base = segment.as_ptr();
        // SAFETY: the segment holds VALUE_OFFSET + 8 bytes (checked above); the mutex
        // takes the bytes before VALUE_OFFSET and guards the u64 at VALUE_OFFSET, which
        // is 8-byte aligned because the mapping is page-aligned.
        let (lock, _) = unsafe { Mutex::new(base, base.add(VALUE_OFFSET)) }
            .sync_context("creating the counter's mutex")?;
        let counter = Counter {
            lock,
            _segment: PhantomData,
        };
        counter.set(0)?;
        Ok(counter)
    }

    /// Uses the mutex another process set up with [`Counter::create`].
    pub fn open(segment: &'a Shmem) -> anyhow::Result<Counter<'a>> {
        ensure!(segment.len() >= VALUE_OFFSET + 8);
        let base = segment.as_ptr();
        // SAFETY: as in `create`; `from_existing` does not re-initialise the mutex, so
        // processes holding it are not disturbed.
        let (lock, _) = unsafe { Mutex::new(base, base.add(VALUE_OFFSET)) }
            .sync_context("opening the counter's mutex")?;
        Ok(Counter {
            lock,
            _segment: PhantomData,
        })
    }

    /// Adds `n` to the value. Other processes may be adding at the same time.
    pub fn add(&self, n: u64) -> anyhow::Result<()> {
        let guard = self.lock.lock().sync_context("locking the counter")?;
        let value = *guard as *mut u64;
        // SAFETY: the guard gives exclusive access to the u64 it guards until it drops.
        unsafe { *value = (*value).wrapping_add(n) };
        Ok(())
    }

    /// The current value.
    pub fn get(&self) -> anyhow::Result<u64> {
        let guard = self.lock.lock().sync_context("locking the counter")?;
        // SAFETY: as in `add`.
        Ok(unsafe { *(*guard as *const u64) })
    }

    fn set(&self, v: u64) -> anyhow::Result<()> {
        let guard = self.lock.lock().sync_context("locking the counter")?;
        // SAFETY: as in `add`.
        unsafe { *(*guard as *mut u64) = v };
        Ok(())
    }
}
// ANCHOR_END: task
