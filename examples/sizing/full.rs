//! Section "A full `/dev/shm`": creating a segment larger than the free space succeeds;
//! the failure comes at first touch, as SIGBUS, unless `posix_fallocate` asks for every
//! page at once.

use anyhow::{bail, Result};
use shared_memory::Shmem;
use shmbook::cleanup::Tracked;
use shmbook::helper::{self, Helper};
use shmbook::{os, sizing, PROCESS_TIMEOUT};

// ANCHOR: full
pub fn run() -> Result<()> {
    let (size, free) = sizing::dev_shm_space()?;
    println!("/dev/shm (tmpfs) on this machine: {size} bytes, {free} free");
    let want = size as usize + (1 << 30);
    match create_reserved(want) {
        Ok(_) => bail!("reserving {want} bytes in /dev/shm succeeded"),
        Err(e) => println!("asking for 1 GiB more than that: error: {e:#}"),
    }
    println!("a helper mounts a private /dev/shm of 16 pages (its own mount namespace):");
    let status = Helper::spawn("_full", &[])?.wait(PROCESS_TIMEOUT)?.status;
    println!("the helper ended: {}", helper::describe(status));
    Ok(())
}

/// Creates a segment and makes the system reserve all of its pages at once, so that
/// a full /dev/shm is an error here instead of a SIGBUS at some later first touch.
#[cfg(target_os = "linux")]
pub fn create_reserved(size: usize) -> Result<Tracked<Shmem>> {
    let shmem = sizing::segment(size)?; // succeeds: sizing reserves nothing
    let fd = sizing::shm_fd(shmem.get_os_id())?;
    if let Err(e) = nix::fcntl::posix_fallocate(&fd, 0, size as i64) {
        // Dropping `shmem` (the owner) removes the segment again.
        bail!("no room in /dev/shm for {size} bytes ({e:?}, posix_fallocate)");
    }
    Ok(shmem)
}
// ANCHOR_END: full

// ANCHOR: full_helper
/// Mounts a 16-page tmpfs over /dev/shm that only this process sees (see
/// `shmbook::sizing::private_dev_shm`), creates a 32-page segment in it and touches
/// it page by page.
pub fn helper() -> Result<()> {
    let page = os::page_size();
    sizing::private_dev_shm(16 * page)?;
    let shmem = sizing::segment(32 * page)?;
    println!("helper: created a 32-page segment in it: no error");
    match create_reserved(32 * page) {
        Ok(_) => bail!("posix_fallocate found room for 32 pages in 16"),
        Err(e) => println!("helper: the same with posix_fallocate: error: {e:#}"),
    }
    for p in 0..32 {
        if p == 16 {
            println!("helper: without it, touched 16 pages; now touching page 17");
        }
        // SAFETY: inside the 32-page mapping. Page 17 has no room behind it: the
        // kernel answers the fault with SIGBUS and the process dies, by design here.
        unsafe { shmem.as_ptr().add(p * page).write_volatile(1) };
    }
    bail!("touched 32 pages in a 16-page tmpfs without a fault")
}
// ANCHOR_END: full_helper

/// `posix_fallocate` on shared memory is Linux's.
#[cfg(not(target_os = "linux"))]
pub fn create_reserved(_size: usize) -> Result<Tracked<Shmem>> {
    bail!("not supported on this system: posix_fallocate on a segment")
}
