//! Section "Growing a segment", on Linux: map more addresses than the segment holds,
//! then grow the segment under them with `ftruncate`.

use anyhow::Result;

/// How many pages of addresses `run` maps over its one-page segment.
#[cfg(target_os = "linux")]
const ROOM: usize = 64;

// ANCHOR: ahead
/// Maps ROOM pages over a one-page segment, grows the segment to four pages with
/// ftruncate, and uses the new pages at the addresses it mapped before.
#[cfg(target_os = "linux")]
pub fn run() -> Result<()> {
    use anyhow::Context;
    use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
    use shmbook::{os, sizing};
    let page = os::page_size();
    let shmem = sizing::segment(page)?; // one page
    let fd = sizing::shm_fd(shmem.get_os_id())?;
    let room = std::num::NonZeroUsize::new(ROOM * page).context("room")?;
    let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a new shared mapping at an address the kernel picks. Its pages past the
    // segment's end would raise SIGBUS; nothing touches them before the segment grows.
    let base = unsafe { mmap(None, room, rw, MapFlags::MAP_SHARED, &fd, 0) }?;
    println!("a 1-page segment, mapped with room for {ROOM} pages");
    nix::unistd::ftruncate(&fd, (4 * page) as i64).context("ftruncate")?;
    let p = base.cast::<u8>();
    // SAFETY: page 4 is inside the segment now, and inside the mapping since before.
    unsafe { p.add(3 * page).write_volatile(7) };
    println!("grown to 4 pages with ftruncate; wrote 7 in page 4, at the same address");
    let opener = sizing::open(shmem.get_os_id())?;
    // SAFETY: page 4 is inside the opener's mapping; nothing writes it any more.
    let seen = unsafe { opener.as_ptr().add(3 * page).read_volatile() };
    println!(
        "a new opener maps {} pages; page 4 reads {seen}",
        opener.len() / page
    );
    println!("the first Shmem still maps {} page", shmem.len() / page);
    // SAFETY: nothing uses `base` or pointers into it after this.
    unsafe { munmap(base, room.get()) }.context("munmap")?;
    Ok(())
}
// ANCHOR_END: ahead

/// Growing a segment that is already sized works on Linux; macOS sets a segment's size
/// only once.
#[cfg(not(target_os = "linux"))]
pub fn run() -> Result<()> {
    anyhow::bail!("not supported on this system: a segment's size can be set only once")
}
