//! A killed owner leaks its segment: only a survivor that knows the name removes it.

use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use shared_memory::{Shmem, ShmemConf};
use shmbook::cleanup::{self, Resource};
use shmbook::helper::{self, Helper};
use shmbook::{names, os, wait, yes_no, PROCESS_TIMEOUT};

use crate::threads::as_atomics;

// ANCHOR: killed_owner
pub fn run() -> Result<()> {
    let name = names::unique("segments");
    let owner = Helper::spawn("_own", &[&name])?;
    wait_until_ready(&name)?; // bounded

    // The helper has made the segment: from now on this process removes the name,
    // whatever happens below (but only while it points at the helper's segment).
    let guard = cleanup::adopt(Resource::Segment(name.clone()));

    let status = owner.kill()?;
    println!("creator: killed the helper: {}", helper::describe(status));
    let exists = || os::shm_exists(&name).map(yes_no);
    println!(
        "creator: {name} exists: {}; the owner's drop never ran",
        exists()?
    );
    drop(guard);
    println!("creator: removed it with shm_unlink; exists: {}", exists()?);
    Ok(())
}
// ANCHOR_END: killed_owner

/// Waits (bounded) until the helper has created the segment and marked it ready;
/// returns this process's mapping of it.
pub fn wait_until_ready(name: &str) -> Result<Shmem> {
    let viewer = wait::retry_while(
        PROCESS_TIMEOUT,
        || ShmemConf::new().os_id(name).open(),
        os::is_transient,
    )
    .map_err(os::explain)
    .context("waiting for the helper's segment")?;
    let ready = as_atomics(&viewer)
        .first()
        .context("the helper's segment is empty")?;
    wait::until("the helper's ready mark", PROCESS_TIMEOUT, || {
        ready.load(Ordering::Acquire) == READY
    })?;
    Ok(viewer)
}

/// The value the owner stores in the first word once the segment is set up.
pub const READY: u64 = 0x0052_4541_4459; // "READY" in ASCII

// ANCHOR: own
pub fn own_until_killed(name: &str) -> Result<()> {
    let shmem = cleanup::segment(name, || ShmemConf::new().size(4096).os_id(name).create())
        .map_err(os::explain)
        .with_context(|| format!("creating {name}"))?;
    println!("helper:  created {name} as its owner; waiting to be killed");
    as_atomics(&shmem)[0].store(READY, Ordering::Release);
    std::thread::sleep(PROCESS_TIMEOUT); // bounded: if nobody kills us, we exit and clean up
    bail!(
        "nobody killed this helper within {} s",
        PROCESS_TIMEOUT.as_secs()
    )
}
// ANCHOR_END: own
