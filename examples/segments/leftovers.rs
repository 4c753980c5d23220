//! A segment that outlives its creator: leave one, look at it, open it, remove it.

use std::io::ErrorKind;

use anyhow::{Context, Result};
use nix::errno::Errno;
use shared_memory::ShmemConf;
use shmbook::os::{self, SegmentStat};

use crate::create::{get, put, yes_no};

// ANCHOR: leave
pub fn leave(name: &str) -> Result<()> {
    let mut shmem = ShmemConf::new()
        .size(4096)
        .os_id(name)
        .create()
        .map_err(os::explain)
        .with_context(|| format!("creating {name}"))?;
    put(&mut shmem, 0, "left here by `segments leave`")?;
    shmem.set_owner(false);
    println!("created {name} and gave up ownership; exiting without removing it");
    Ok(())
}
// ANCHOR_END: leave

/// What a creator killed between shm_open and ftruncate leaves behind.
pub fn leave_unsized(name: &str) -> Result<()> {
    drop(crate::errors::shm_create(name)?); // closes the descriptor; the name stays
    println!(
        "made {name} with shm_open only (size 0), as a creator that died before sizing it would"
    );
    Ok(())
}

/// Looks at `name` without mapping it and without ever blocking: a FIFO or a directory
/// put there is an error, not a segment (`os::shm_stat`).
fn look(name: &str) -> Result<Option<SegmentStat>> {
    match os::shm_stat(name) {
        // The error says what the name is instead ("NAME is a FIFO, not a ...").
        Err(e) if e.kind() == ErrorKind::InvalidData => Err(e.into()),
        other => other.with_context(|| format!("looking at {name}")),
    }
}

pub fn exists(name: &str) -> Result<()> {
    match os::shm_stat(name) {
        Ok(None) => println!("{name} does not exist"),
        Ok(Some(st)) => {
            let whose = if st.uid == os::uid() {
                "this user"
            } else {
                "another user"
            };
            let (size, mode) = (st.size, st.mode);
            println!("{name} exists: {size} bytes, mode {mode:04o}, owned by {whose}");
            if cfg!(target_os = "linux") {
                println!("on Linux it is the file /dev/shm{name}");
            }
        }
        Err(e) if e.raw_os_error() == Some(Errno::EACCES as i32) => {
            println!("{name} exists, but this user may not open it (EACCES)")
        }
        // A FIFO, a directory: the error says what the name is instead.
        Err(e) if e.kind() == ErrorKind::InvalidData => println!("{e}"),
        Err(e) => return Err(e).with_context(|| format!("looking at {name}")),
    }
    Ok(())
}

// ANCHOR: remove
pub fn remove(name: &str) -> Result<()> {
    // Look first, without mapping it: a FIFO or a directory is refused here.
    if look(name)?.is_some_and(|st| st.size == 0) {
        // Its creator died between shm_open and ftruncate. It cannot be mapped, so it
        // cannot be owned; remove the name directly.
        os::shm_unlink(name).with_context(|| format!("removing {name}"))?;
        println!("{name} had size 0 (never sized); removed it by name with shm_unlink");
        return Ok(());
    }
    let mut shmem = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))?;
    shmem.set_owner(true); // now our drop removes it
    println!("opened {name} ({} bytes) and took ownership", shmem.len());
    drop(shmem);
    let exists = yes_no(os::shm_exists(name)?);
    println!("dropped it: {name} exists: {exists}");
    Ok(())
}
// ANCHOR_END: remove

/// Prints the text at the start of a segment, escaped, read within its real length.
pub fn open(name: &str) -> Result<()> {
    look(name)?;
    let shmem = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))?;
    let text = get(&shmem, 0);
    println!("opened {name}: {} bytes; it says \"{text}\"", shmem.len());
    Ok(())
}
