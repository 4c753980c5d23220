// WRONG (race): looks at the count under the mutex, takes the permit under another lock.
// expect: fail inside at once
//! Semaphores, exercise 2: a counting semaphore from `raw_sync`'s `Mutex` and `Event`.
//!
//! `raw_sync` has no semaphore. Build one: a permit count guarded by a `Mutex`, and an
//! auto-reset `Event` that wakes a waiter when a permit comes back. The grader starts
//! eight worker processes on a semaphore with two permits; each enters three times and
//! holds its permit for a few milliseconds. No more than two may ever be inside at
//! once, two must be inside together at some point, and all must finish in time:
//! a waiter must be woken when a permit comes back, not find it by chance later.

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
        ensure!(segment.len() >= SIZE, "the segment needs {SIZE} bytes");
        let base = segment.as_ptr();
        // SAFETY: the segment holds SIZE bytes; the mutex (before COUNT_OFFSET), the
        // count (4 bytes at COUNT_OFFSET) and the event (from EVENT_OFFSET, less than
        // SIZE - EVENT_OFFSET bytes) do not overlap, and all are suitably aligned in a
        // page-aligned mapping.
        let (lock, _) = unsafe { Mutex::new(base, base.add(COUNT_OFFSET)) }
            .sync_context("creating the semaphore's mutex")?;
        // SAFETY: as above.
        let (event, _) = unsafe { Event::new(base.add(EVENT_OFFSET), true) }
            .sync_context("creating the semaphore's event")?;
        {
            let guard = lock.lock().sync_context("locking the semaphore")?;
            // SAFETY: the guard gives exclusive access to the count.
            unsafe { *(*guard as *mut u32) = permits };
        }
        Ok(Semaphore {
            lock,
            event,
            _segment: PhantomData,
        })
    }

    /// Uses a semaphore another process set up with [`Semaphore::create`].
    pub fn open(segment: &'a Shmem) -> anyhow::Result<Semaphore<'a>> {
        ensure!(segment.len() >= SIZE, "the segment needs {SIZE} bytes");
        let base = segment.as_ptr();
        // SAFETY: as in `create`; from_existing leaves both objects as they are.
        let (lock, _) = unsafe { Mutex::from_existing(base, base.add(COUNT_OFFSET)) }
            .sync_context("opening the semaphore's mutex")?;
        // SAFETY: as above.
        let (event, _) = unsafe { Event::from_existing(base.add(EVENT_OFFSET)) }
            .sync_context("opening the semaphore's event")?;
        Ok(Semaphore {
            lock,
            event,
            _segment: PhantomData,
        })
    }

    /// Takes a permit, waiting at most `timeout` for one; then it is an error.
    pub fn acquire(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let guard = self.lock.lock().sync_context("locking the semaphore")?;
                let count = *guard as *mut u32;
                // SAFETY: the guard gives exclusive access to the count.
                unsafe {
                    if *count > 0 {
                        drop(guard);
                        std::thread::yield_now();
                        let guard = self.lock.lock().sync_context("locking the semaphore")?;
                        *count = (*count).saturating_sub(1);
                        let more = *count > 0;
                        drop(guard);
                        if more {
                            // Permits are left: pass the wake-up on to the next waiter
                            // (an auto-reset event wakes one waiter per signal).
                            self.event
                                .set(EventState::Signaled)
                                .sync_context("waking")?;
                        }
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                bail!("no permit within {timeout:?}");
            }
            // raw_sync 0.1.5 adds a timeout's nanoseconds to the clock's without carrying
            // into the seconds (abs_timespec_from_duration, src/locks/unix.rs), so a wait
            // of, say, 600 ms often fails at once with EINVAL. Whole seconds are safe:
            // wait a second at most, then look at the count and the deadline again. A
            // timed-out wait is not an error here.
            let _ = self.event.wait(Timeout::Val(Duration::from_secs(1)));
        }
    }

    /// Gives a permit back and wakes one waiter.
    pub fn release(&self) -> anyhow::Result<()> {
        {
            let guard = self.lock.lock().sync_context("locking the semaphore")?;
            // SAFETY: the guard gives exclusive access to the count.
            unsafe { *(*guard as *mut u32) += 1 };
        }
        self.event
            .set(EventState::Signaled)
            .sync_context("waking a waiter")
    }
}
// ANCHOR_END: task
