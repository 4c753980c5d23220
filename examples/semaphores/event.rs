//! Section "'The data is ready': an event, not a loop": a helper sleeps on a
//! `raw_sync` event until the parent has written the data, in both orders: the helper
//! waiting before the event is set, and the event set before the helper waits.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use raw_sync::events::{Event, EventImpl, EventInit, EventState};
use raw_sync::Timeout;
use shmbook::helper::Helper;
use shmbook::locks::check_raw_sync_mutex;
use shmbook::semaphores::demo::{
    self as segment, asleep, attach_and_wait_for_go, object, shared, start_together, Object, Shared,
};
use shmbook::sync::SyncContext;
use shmbook::{wait, yes_no, PROCESS_TIMEOUT};

// ANCHOR: event
pub fn event() -> Result<()> {
    for set_first in [false, true] {
        let shmem = segment::create()?;
        let s = shared(&shmem);
        // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
        let (ready, _) =
            unsafe { Event::new(object(&shmem), false) }.sync_context("creating the event")?;
        segment::publish(&shmem, Object::Event);
        let consumer = Helper::spawn("_consumer", &[shmem.get_os_id()])?;
        if set_first {
            produce(s, &*ready)?; // the helper has not even attached yet
            start_together(s, 1)?;
        } else {
            start_together(s, 1)?;
            wait::until("the helper to sleep in its wait", PROCESS_TIMEOUT, || {
                s.inside.load(Ordering::Acquire) == 1 && asleep(s.sleeper.load(Ordering::Acquire))
            })?;
            produce(s, &*ready)?;
        }
        consumer.wait_ok(PROCESS_TIMEOUT)?;
    }
    Ok(())
}

fn produce(s: &Shared, ready: &dyn EventImpl) -> Result<()> {
    println!("parent: writes 42 and sets the event");
    s.data.store(42, Ordering::Release);
    ready
        .set(EventState::Signaled)
        .sync_context("setting the event")?;
    s.entered.store(1, Ordering::Release); // "the event is set", for the helper's report
    Ok(())
}
// ANCHOR_END: event

/// How often this thread has gone to sleep so far (voluntary context switches).
fn sleeps() -> Result<i64> {
    use nix::sys::resource::{getrusage, UsageWho};
    #[cfg(target_os = "linux")]
    let who = UsageWho::RUSAGE_THREAD;
    #[cfg(not(target_os = "linux"))]
    let who = UsageWho::RUSAGE_SELF;
    Ok(getrusage(who)?.voluntary_context_switches())
}

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
    let already = s.entered.load(Ordering::Acquire) == 1;
    let (start, before) = (Instant::now(), sleeps()?);
    s.inside.store(1, Ordering::Release); // "waiting now"
                                          // Whole seconds: raw_sync computes those deadlines correctly (see timeout-bug).
    let limit = Duration::from_secs(PROCESS_TIMEOUT.as_secs());
    ready
        .wait(Timeout::Val(limit))
        .sync_context("waiting for the data")?;
    let (took, slept) = (start.elapsed().as_secs_f64(), sleeps()? > before);
    let data = s.data.load(Ordering::Acquire);
    println!(
        "helper: the event was set before I waited: {}",
        yes_no(already)
    );
    println!(
        "helper: slept in the wait: {}; it returned after {took:.3} s; the data is {data}",
        yes_no(slept)
    );
    Ok(())
}
// ANCHOR_END: consumer
