//! Section "raw_sync's defects and their workarounds": its timed lock on a held mutex
//! fails at once with EINVAL when the timeout has a fraction of a second.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use raw_sync::locks::{LockImpl, LockInit, Mutex};
use raw_sync::Timeout;
use shmbook::helper::Helper;
use shmbook::locks::lock_within;
use shmbook::semaphores::demo::{self as segment, object, shared, Object};
use shmbook::sync::SyncContext;
use shmbook::{wait, yes_no, PROCESS_TIMEOUT};

// ANCHOR: timeout_bug
pub fn timeout_bug() -> Result<()> {
    let shmem = segment::create()?;
    // SAFETY: the object's place is aligned, inside the segment; no helper exists yet.
    let (mutex, _) = unsafe { Mutex::new(object(&shmem), std::ptr::null_mut()) }
        .sync_context("creating the mutex")?;
    segment::publish(&shmem, Object::RawMutex);

    let timeout = Duration::from_nanos(999_999_999);
    let free = mutex.try_lock(Timeout::Val(timeout));
    println!(
        "free mutex, timeout 0.999999999 s: locked: {}",
        yes_no(free.is_ok())
    );
    drop(free);

    let holder = Helper::spawn("_hold", &[shmem.get_os_id()])?;
    wait::until("the helper to take the lock", PROCESS_TIMEOUT, || {
        shared(&shmem)
            .ready
            .load(std::sync::atomic::Ordering::Acquire)
            == 1
    })?;
    held_timed_lock(&*mutex, timeout, "0.999999999 s")?;
    held_timed_lock(&*mutex, Duration::from_secs(1), "1 s")?;
    workarounds(&*mutex)?;
    holder.kill()?;
    Ok(())
}
// ANCHOR_END: timeout_bug

/// The book's two bounded waits on the held mutex: polling, and one timed call.
fn workarounds(mutex: &dyn LockImpl) -> Result<()> {
    let limit = Duration::from_millis(200);
    let start = Instant::now();
    if lock_within(mutex, limit, "the mutex").is_ok() {
        bail!("locked a mutex another process holds");
    }
    let took = start.elapsed().as_secs_f64();
    println!("held mutex, shmbook::locks::lock_within 0.2 s: timed out after {took:.1} s");
    #[cfg(target_os = "linux")]
    {
        let start = Instant::now();
        // SAFETY: `mutex` is the raw_sync Mutex made above.
        let Err(e) = (unsafe { shmbook::locks::mutex_within(mutex, limit, "the mutex") }) else {
            bail!("locked a mutex another process holds");
        };
        let took = start.elapsed().as_secs_f64();
        println!("held mutex, shmbook::locks::mutex_within 0.2 s: \"{e}\" after {took:.1} s");
    }
    Ok(())
}

// ANCHOR: held_timed_lock
/// raw_sync's own timed lock on a mutex another process holds. Linux only: on macOS
/// raw_sync replaces `pthread_mutex_timedlock` with a polling loop whose deadline check
/// an un-carried deadline never passes, so this call could wait for ever there.
#[cfg(target_os = "linux")]
fn held_timed_lock(mutex: &dyn LockImpl, timeout: Duration, what: &str) -> Result<()> {
    let start = Instant::now();
    let Err(e) = mutex.try_lock(Timeout::Val(timeout)) else {
        bail!("locked a mutex another process holds");
    };
    // raw_sync's message ends with the error number: name it.
    let text = e.to_string();
    let number = text.rsplit(' ').next().and_then(|n| n.parse().ok());
    let name = number.map_or("?", shmbook::os::errno_name);
    let took = start.elapsed().as_secs_f64();
    println!("held mutex, timeout {what}: \"{text}\" ({name}) after {took:.2} s");
    Ok(())
}
// ANCHOR_END: held_timed_lock

#[cfg(not(target_os = "linux"))]
fn held_timed_lock(_mutex: &dyn LockImpl, _timeout: Duration, what: &str) -> Result<()> {
    println!("held mutex, timeout {what}: not supported on this system");
    Ok(())
}
