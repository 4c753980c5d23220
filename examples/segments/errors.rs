//! The errors you will meet, and the one that comes from a race: opening a segment
//! between its creator's `shm_open` and `ftruncate`.

use std::os::fd::OwnedFd;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::mman::shm_open;
use nix::sys::stat::Mode;
use shared_memory::ShmemConf;
use shmbook::helper::{self, Helper};
use shmbook::{cleanup, names, os, wait, PROCESS_TIMEOUT};

// ANCHOR: unsized
pub fn open_before_sized() -> Result<()> {
    let name = names::unique("segments");
    // What ShmemConf::create does in three steps, paused after the first:
    // shm_open(O_CREAT) makes a segment of size 0; ftruncate sizes it; mmap maps it.
    let fd = cleanup::segment(&name, || shm_create(&name))?;
    println!("creator: shm_open made {name}; it has not been sized yet");

    let early = Helper::spawn("_open", &[&name])?.wait(PROCESS_TIMEOUT)?;
    let status = helper::describe(early.status);
    println!("creator: that helper ended with {status}");

    let patient = Helper::spawn("_open", &[&name, "--retry"])?;
    std::thread::sleep(Duration::from_millis(50)); // let it try and fail a few times
    println!("creator: started a helper that retries; sizing the segment to 4096 bytes now");
    nix::unistd::ftruncate(&*fd, 4096).context("ftruncate")?;
    patient.wait_ok(PROCESS_TIMEOUT)?;
    Ok(())
}
// ANCHOR_END: unsized

/// `shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600)`: the first step of creating.
pub fn shm_create(name: &str) -> Result<OwnedFd> {
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR;
    shm_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR)
        .with_context(|| format!("shm_open({name})"))
}

// ANCHOR: open_early
pub fn open_early(name: &str, retry: bool) -> Result<()> {
    let attempt = || ShmemConf::new().os_id(name).open();
    if !retry {
        let e = (attempt().err()).context("the open succeeded, but the segment had no size")?;
        bail!("opening {name}: {}", os::explain(e));
    }
    // Retry only what waiting cures: not created yet (ENOENT), not sized yet (EINVAL).
    let mut failures = 0;
    let counted = || attempt().inspect_err(|_| failures += 1);
    let shmem = wait::retry_while(PROCESS_TIMEOUT, counted, os::is_transient)
        .map_err(os::explain)
        .with_context(|| format!("opening {name}, retried while missing or unsized"))?;
    println!(
        "helper:  opened after {failures} failed attempts: {} bytes",
        shmem.len()
    );
    Ok(())
}
// ANCHOR_END: open_early
