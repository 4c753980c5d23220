//! Section "The end of the last page, and beyond": the bytes past `len()` in the last
//! page, and the SIGBUS of a page wholly past the segment.

use std::num::NonZeroUsize;

use anyhow::{bail, Context, Result};
use nix::sys::mman::{mmap, MapFlags, ProtFlags};
use nix::sys::uio::pread;
use nix::unistd::ftruncate;
use shmbook::helper::{self, Helper};
use shmbook::{os, sizing, PROCESS_TIMEOUT};

// ANCHOR: beyond
pub fn run() -> Result<()> {
    let page = os::page_size();
    let shmem = sizing::segment(page + 1)?;
    let (len, name) = (shmem.len(), shmem.get_os_id());
    let mapped = len.div_ceil(page) * page;
    println!(
        "created {len} bytes (one page and one byte); mapped: {} pages",
        mapped / page
    );
    let last = shmem.as_ptr().wrapping_add(mapped - 1);
    // SAFETY: `last` is the final byte of the mapping's last page: mmap maps whole
    // pages, so it is inside the mapping although it is past len(). Nobody else uses
    // the segment yet.
    let before = unsafe { last.read() };
    // SAFETY: the same byte, inside the mapping; still no other process has it.
    unsafe { last.write(7) };
    println!(
        "byte {} (past len(), same page): read {before}, wrote 7: fine",
        mapped - 1
    );
    let helper = Helper::spawn("_beyond", &[name])?.wait(PROCESS_TIMEOUT)?;
    println!("the helper ended: {}", helper::describe(helper.status));
    let byte = grow_and_read_last(name, mapped)?; // the stray byte is inside it now
    println!(
        "grown to {mapped} bytes with ftruncate: byte {} reads {byte}",
        mapped - 1
    );
    Ok(())
}
// ANCHOR_END: beyond

// ANCHOR: grown
/// Grows the segment `name` to `size` bytes with ftruncate, and reads its last byte.
fn grow_and_read_last(name: &str, size: usize) -> Result<u8> {
    let fd = sizing::shm_fd(name)?;
    ftruncate(&fd, size as i64).context("ftruncate")?;
    let mut byte = [0u8];
    pread(&fd, &mut byte, size as i64 - 1).context("pread")?;
    Ok(byte[0])
}
// ANCHOR_END: grown

// ANCHOR: beyond_helper
/// Maps one page more than the segment holds, as a process does that assumes a size
/// (or that mapped a segment someone then made smaller), and touches that page.
pub fn helper(name: &str) -> Result<()> {
    let page = os::page_size();
    let fd = sizing::shm_fd(name)?;
    let pages = sizing::whole_pages(&fd, page)?; // from fstat: never an assumed size
    let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    let length = NonZeroUsize::new((pages + 1) * page).context("mapping length")?;
    // SAFETY: a fresh shared mapping at an address the kernel picks; mmap allows a
    // length past the end of the object. It is never unmapped: the process dies below.
    let p = unsafe { mmap(None, length, rw, MapFlags::MAP_SHARED, &fd, 0) }?.cast::<u8>();
    // SAFETY: the last byte of page `pages` lies in the segment's last page.
    let v = unsafe { p.add(pages * page - 1).read_volatile() };
    println!(
        "helper: mapped {} pages of it; the last byte of page {pages} reads {v}",
        pages + 1
    );
    println!(
        "helper: now reading the first byte of page {}, wholly past the segment",
        pages + 1
    );
    // SAFETY: this read is *meant* to fault: the address is mapped, but no page of the
    // segment backs it, so the kernel sends SIGBUS and the process dies. No Rust
    // value is created from memory that could be invalid: the process never returns.
    let v = unsafe { p.add(pages * page).read_volatile() };
    bail!("reading past the segment did not fault (read {v})")
}
// ANCHOR_END: beyond_helper
