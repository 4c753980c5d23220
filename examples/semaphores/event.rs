//! Section "'The data is ready': an event, not a loop": a helper sleeps on a
//! `raw_sync` event until the parent has written the data.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use raw_sync::events::{Event, EventInit, EventState};
use raw_sync::Timeout;
use shmbook::helper::Helper;
use shmbook::locks::check_raw_sync_mutex;
use shmbook::sync::SyncContext;
use shmbook::PROCESS_TIMEOUT;

use crate::segment::{self, attach_and_wait_for_go, object, shared, start_together, Object};

// ANCHOR: event
pub fn event() -> Result<()> {
    let shmem = segment::create()?;
    let s = shared(&shmem);
    // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
    let (ready, _) =
        unsafe { Event::new(object(&shmem), false) }.sync_context("creating the event")?;
    segment::publish(&shmem, Object::Event);
    let consumer = Helper::spawn("_consumer", &[shmem.get_os_id()])?;
    start_together(s, 1)?;
    std::thread::sleep(Duration::from_millis(50)); // preparing the data takes a while
    s.data.store(42, Ordering::Release);
    println!("parent: wrote 42 and set the event");
    ready
        .set(EventState::Signaled)
        .sync_context("setting the event")?;
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(())
}
// ANCHOR_END: event

// ANCHOR: consumer
pub fn consumer(name: &str) -> Result<()> {
    let shmem = segment::open(name, Object::Event)?;
    let s = shared(&shmem);
    // SAFETY: the header says the parent created the event there before starting us;
    // the kind of the mutex it starts with is checked before raw_sync uses it.
    let (ready, _) = unsafe {
        check_raw_sync_mutex(object(&shmem))?;
        Event::from_existing(object(&shmem))
    }
    .sync_context("attaching to the event")?;
    attach_and_wait_for_go(s)?;
    let start = Instant::now();
    // Whole seconds: raw_sync computes those deadlines correctly (see timeout-bug).
    let limit = Duration::from_secs(PROCESS_TIMEOUT.as_secs());
    ready
        .wait(Timeout::Val(limit))
        .sync_context("waiting for the data")?;
    let (took, data) = (
        start.elapsed().as_secs_f64(),
        s.data.load(Ordering::Acquire),
    );
    println!("helper: woke up after {took:.2} s, asleep meanwhile; the data is {data}");
    Ok(())
}
// ANCHOR_END: consumer
