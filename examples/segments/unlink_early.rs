//! Unlink early: once every process has the segment open, remove its name. Nothing is
//! left to leak, even when the owner is killed.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use anyhow::{bail, Context, Result};
use shared_memory::ShmemConf;
use shmbook::cleanup::{self, Resource};
use shmbook::helper::{self, Helper};
use shmbook::{names, os, wait, yes_no, PROCESS_TIMEOUT};

use crate::killed_owner::{wait_until_ready, READY};
use crate::threads::as_atomics;

/// Word 1: the parent has opened the segment. Word 3: the owner has removed the name.
const OPENED: u64 = 1;
const UNLINKED: u64 = 2;

// ANCHOR: unlink_early
pub fn run() -> Result<()> {
    let name = names::unique("segments");
    let owner = Helper::spawn("_unlink_early", &[&name])?;
    let shmem = wait_until_ready(&name)?; // bounded; as in Listing 1.7
    let _guard = cleanup::adopt(Resource::Segment(name.clone())); // should the owner fail
    let words = as_atomics(&shmem);
    println!("parent:  opened {name}; telling the owner");
    words[1].store(OPENED, Release);

    let unlinked = || words[3].load(Acquire) == UNLINKED;
    wait::until("the owner to remove the name", PROCESS_TIMEOUT, unlinked)?;
    let exists = || os::shm_exists(&name).map(yes_no);
    let (gone, word) = (exists()?, words[2].load(Relaxed));
    println!("parent:  {name} exists: {gone}; still shared: the owner wrote {word} since");

    let status = owner.kill()?;
    println!("parent:  killed the owner: {}", helper::describe(status));
    println!("parent:  left behind: {name} exists: {}", exists()?);
    Ok(())
}
// ANCHOR_END: unlink_early

// ANCHOR: owner
pub fn owner(name: &str) -> Result<()> {
    let conf = || ShmemConf::new().size(4096).os_id(name).create();
    let mut shmem = cleanup::segment(name, conf).map_err(os::explain)?;
    shmem.set_owner(false); // the name is removed below, and by the guard on any error
    println!("owner:   created {name}; waiting for the parent to open it");
    let words = as_atomics(&shmem);
    words[0].store(READY, Release);
    let opened = || words[1].load(Acquire) == OPENED;
    wait::until("the parent to open the segment", PROCESS_TIMEOUT, opened)?;

    // Every process that needs the segment has it open: remove the name now.
    os::shm_unlink(name).with_context(|| format!("removing {name}"))?;
    println!("owner:   every process has it open; removed the name");
    words[2].store(42, Relaxed);
    words[3].store(UNLINKED, Release); // publishes the 42 too

    std::thread::sleep(PROCESS_TIMEOUT); // bounded: the parent kills us before this ends
    bail!(
        "nobody killed this owner within {} s",
        PROCESS_TIMEOUT.as_secs()
    )
}
// ANCHOR_END: owner
