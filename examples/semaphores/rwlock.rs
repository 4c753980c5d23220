//! Section "Readers together, a writer alone": three readers share a read-write lock,
//! a writer waits for them, and a late reader waits for the writer.

use std::sync::atomic::Ordering;

use anyhow::Result;
use raw_sync::locks::{LockImpl, LockInit, RwLock};
use shmbook::helper::Helper;
use shmbook::locks::{lock_within, read_within};
use shmbook::semaphores::demo::{
    self as segment, attach_and_wait_for_go, object, shared, start_together, Object, Shared,
    INSIDE_FOR,
};
use shmbook::sync::SyncContext;
use shmbook::{wait, yes_no, PROCESS_TIMEOUT};

// ANCHOR: rwlock
pub fn rwlock() -> Result<()> {
    let shmem = segment::create()?;
    let s = shared(&shmem);
    let name = shmem.get_os_id();
    // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
    // The data pointer is unused (the demo's data are the atomics in `Shared`).
    let _lock = unsafe { RwLock::new(object(&shmem), std::ptr::null_mut()) }
        .sync_context("creating the read-write lock")?;
    segment::publish(&shmem, Object::RwLock);
    let mut helpers = Vec::new();
    for _ in 0..3 {
        helpers.push(Helper::spawn("_reader", &[name])?);
    }
    helpers.push(Helper::spawn("_writer", &[name])?);
    helpers.push(Helper::spawn("_reader", &[name, "--late"])?);
    start_together(s, 5)?;
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    report(s);
    Ok(())
}
// ANCHOR_END: rwlock

fn report(s: &Shared) {
    let most = s.most_inside.load(Ordering::Acquire);
    let together = s.seen_wrong.load(Ordering::Acquire) > 0;
    let waited = s.late_waited.load(Ordering::Acquire) == 1;
    println!("most readers inside at once: {most}");
    println!(
        "a reader and the writer inside together: {}",
        yes_no(together)
    );
    println!(
        "the reader that came while the writer held the lock waited for it: {}",
        yes_no(waited)
    );
}

/// A helper's handle on the parent's read-write lock, after checking the header.
pub fn attach(name: &str) -> Result<(shared_memory::Shmem, Box<dyn LockImpl>)> {
    let shmem = segment::open(name, Object::RwLock)?;
    // SAFETY: the header says the parent created the lock there before starting us.
    let (lock, _) = unsafe { RwLock::from_existing(object(&shmem), std::ptr::null_mut()) }
        .sync_context("attaching to the read-write lock")?;
    Ok((shmem, lock))
}

// ANCHOR: reader
pub fn reader(name: &str, late: bool) -> Result<()> {
    let (shmem, lock) = attach(name)?;
    let s = shared(&shmem);
    attach_and_wait_for_go(s)?;
    if late {
        wait::until("the writer to get in", PROCESS_TIMEOUT, || {
            s.writer_inside.load(Ordering::Acquire) == 1
        })?;
    }
    let _guard = read_within(&*lock, PROCESS_TIMEOUT, "the read lock")?;
    if s.writer_inside.load(Ordering::Acquire) != 0 {
        s.seen_wrong.fetch_add(1, Ordering::AcqRel);
    } else if late {
        s.late_waited.store(1, Ordering::Release);
    }
    let now = s.inside.fetch_add(1, Ordering::AcqRel) + 1;
    s.most_inside.fetch_max(now, Ordering::AcqRel);
    if !late {
        // The three first readers stay until all three are in: only a shared lock
        // lets that happen (an exclusive one would make this wait time out).
        wait::until("three readers inside", PROCESS_TIMEOUT, || {
            s.most_inside.load(Ordering::Acquire) == 3
        })?;
    }
    std::thread::sleep(INSIDE_FOR);
    s.inside.fetch_sub(1, Ordering::AcqRel);
    Ok(())
}
// ANCHOR_END: reader

// ANCHOR: writer
pub fn writer(name: &str) -> Result<()> {
    let (shmem, lock) = attach(name)?;
    let s = shared(&shmem);
    attach_and_wait_for_go(s)?;
    // Come while the three first readers are inside: the write lock must wait for them.
    wait::until("three readers inside", PROCESS_TIMEOUT, || {
        s.most_inside.load(Ordering::Acquire) == 3
    })?;
    let _guard = lock_within(&*lock, PROCESS_TIMEOUT, "the write lock")?;
    if s.inside.load(Ordering::Acquire) != 0 {
        s.seen_wrong.fetch_add(1, Ordering::AcqRel);
    }
    s.writer_inside.store(1, Ordering::Release);
    std::thread::sleep(INSIDE_FOR);
    s.writer_inside.store(0, Ordering::Release);
    Ok(())
}
// ANCHOR_END: writer
