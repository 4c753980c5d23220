//! Section "Counting: K at a time": a semaphore whose count starts at K lets K workers
//! in at once, and no more.

use std::sync::atomic::Ordering;

use anyhow::Result;
use shmbook::helper::Helper;
use shmbook::semaphore::Semaphore;
use shmbook::semaphores::demo::{
    self as segment, attach_and_wait_for_go, object, shared, start_together, Object,
};
use shmbook::{wait, PROCESS_TIMEOUT};

// ANCHOR: admit
pub fn admit(k: u32, workers: u32) -> Result<()> {
    let shmem = segment::create()?;
    let s = shared(&shmem);
    // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
    let sem = unsafe { Semaphore::init(&shmem, object(&shmem), k)? };
    s.room.store(k, Ordering::Relaxed);
    s.workers.store(workers, Ordering::Relaxed);
    segment::publish(&shmem, Object::Semaphore);
    let helpers = (0..workers)
        .map(|_| Helper::spawn("_worker", &[shmem.get_os_id()]))
        .collect::<Result<Vec<_>>>()?;
    start_together(s, workers)?;
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    let most = s.most_inside.load(Ordering::Acquire);
    println!("{workers} workers, a semaphore with count {k}: at most {most} were inside at once");
    // SAFETY: every worker has exited.
    unsafe { sem.destroy() };
    Ok(())
}
// ANCHOR_END: admit

// ANCHOR: worker
pub fn worker(name: &str) -> Result<()> {
    let shmem = segment::open(name, Object::Semaphore)?;
    let s = shared(&shmem);
    // SAFETY: the header says the parent set up the semaphore there; its bytes are checked.
    let sem = unsafe { Semaphore::open(&shmem, object(&shmem))? };
    attach_and_wait_for_go(s)?;
    sem.wait_within(PROCESS_TIMEOUT, "a place inside")?;
    s.entered.fetch_add(1, Ordering::AcqRel);
    let now = s.inside.fetch_add(1, Ordering::AcqRel) + 1;
    s.most_inside.fetch_max(now, Ordering::AcqRel);
    // Stay until the room is full (or every worker has been in), then work a while:
    // the run shows that K fit at once, and `most_inside` that no more ever got in.
    wait::until("the room to fill", PROCESS_TIMEOUT, || {
        s.inside.load(Ordering::Acquire) >= s.room.load(Ordering::Relaxed)
            || s.entered.load(Ordering::Acquire) == s.workers.load(Ordering::Relaxed)
    })?;
    std::thread::sleep(segment::INSIDE_FOR); // the work
    s.inside.fetch_sub(1, Ordering::AcqRel);
    sem.post()
}
// ANCHOR_END: worker
