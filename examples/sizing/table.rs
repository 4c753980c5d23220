//! Section "Requested size, `len()` and pages": what a segment's size is, and how much
//! memory the system sets aside for it.

use anyhow::Result;
use nix::sys::stat::fstat;
use shmbook::{os, sizing};

// ANCHOR: table
pub fn run() -> Result<()> {
    let page = os::page_size(); // asked from the system: sysconf(_SC_PAGESIZE)
    println!("page size on this system: {page} bytes");
    println!("requested  len()  pages  bytes reserved");
    for requested in [1, 4096, 4097, 20000] {
        let mut shmem = sizing::segment(requested)?;
        // SAFETY: this process created the segment and no other process knows its
        // name, so nothing else reads or writes it while this slice lives.
        unsafe { shmem.as_slice_mut() }.fill(1); // touch every byte of len()
        let (len, pages) = (shmem.len(), shmem.len().div_ceil(page));
        let reserved = reserved_bytes(shmem.get_os_id())?;
        println!("{requested:<10} {len:<6} {pages:<6} {reserved}");
    }
    Ok(())
}

/// The memory a segment holds in /dev/shm right now: the file's allocated blocks.
pub fn reserved_bytes(name: &str) -> Result<u64> {
    let st = fstat(sizing::shm_fd(name)?)?;
    Ok(st.st_blocks as u64 * 512) // st_blocks counts 512-byte units
}
// ANCHOR_END: table
