//! Section "In a container": Docker gives a container a `/dev/shm` of 64 MiB unless it
//! is told otherwise (`--shm-size`). A bigger segment is created without an error, and
//! kills the process that fills it with SIGBUS once the writes pass 64 MiB.

use anyhow::{bail, Result};
use shmbook::helper::{self, Helper};
use shmbook::{sizing, PROCESS_TIMEOUT};

use crate::full::create_reserved;

const MIB: usize = 1 << 20;

// ANCHOR: container
pub fn run() -> Result<()> {
    if !cfg!(target_os = "linux") || shmbook::os::uid() != 0 {
        println!("skipped: this run needs Linux and root, to mount a private /dev/shm");
        return Ok(());
    }
    println!("a helper mounts a private /dev/shm of 64 MiB, a container's default:");
    let status = Helper::spawn("_container", &[])?
        .wait(PROCESS_TIMEOUT)?
        .status;
    println!("the helper ended: {}", helper::describe(status));
    Ok(())
}

/// In a 64 MiB /dev/shm, makes a 100 MiB segment (a batch of images that workers hand
/// to a trainer, say) and fills it a MiB at a time, as NumPy would fill an array.
pub fn helper() -> Result<()> {
    sizing::private_dev_shm(64 * MIB)?;
    match create_reserved(100 * MIB) {
        Ok(_) => bail!("posix_fallocate found room for 100 MiB in 64 MiB"),
        Err(e) => println!("helper: 100 MiB with posix_fallocate: error: {e:#}"),
    }
    let mut shmem = sizing::segment(100 * MIB)?;
    println!("helper: 100 MiB without it: created, no error; filling it");
    // SAFETY: the segment is this process's alone: nobody else can even see its mount.
    let bytes = unsafe { shmem.as_slice_mut() };
    for (i, mib) in bytes.chunks_mut(MIB).enumerate() {
        if i == 64 {
            println!("helper: filled 64 MiB; now writing the 65th");
        }
        mib.fill(1); // past 64 MiB no page is left for it: SIGBUS
    }
    bail!("filled 100 MiB in a 64 MiB tmpfs without a fault")
}
// ANCHOR_END: container
