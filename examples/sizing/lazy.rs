//! Section "Memory is taken lazily": pages are allocated as processes touch them, and a
//! second process maps the same pages instead of copies.

use anyhow::Result;
use shmbook::helper::Helper;
use shmbook::sizing::{open_as_made, resident_pages};
use shmbook::{os, sizing, PROCESS_TIMEOUT};

use crate::table::reserved_bytes;

// ANCHOR: lazy
pub fn run(pages: usize) -> Result<()> {
    let page = os::page_size();
    let shmem = sizing::segment(pages * page)?;
    let (name, base) = (shmem.get_os_id(), shmem.as_ptr());
    let show = |when: &str| -> Result<()> {
        let here = resident_pages(base, page)?;
        let in_shm = reserved_bytes(name)? as usize / page;
        println!("{when:<28} resident pages here: {here:>3}; in /dev/shm: {in_shm:>3}");
        Ok(())
    };
    println!("created a segment of {pages} pages of {page} bytes");
    show("after create:")?;
    // SAFETY: offset 0 is inside the mapping; no other process uses the segment yet.
    unsafe { base.write(1) };
    show("after writing 1 byte:")?;
    for p in 0..pages / 4 {
        // SAFETY: p * page < pages * page: inside the mapping; still ours alone.
        unsafe { base.add(p * page).write(1) };
    }
    show("after 1 byte in each of 1/4:")?;
    Helper::spawn("_resident", &[name])?.wait_ok(PROCESS_TIMEOUT)?;
    Ok(())
}
// ANCHOR_END: lazy

// ANCHOR: resident
/// A second process maps the same segment: its own resident count starts at zero,
/// reading pages the first process touched adds nothing to /dev/shm, and reading a
/// page nobody touched allocates it. Pages are counted from 1.
pub fn resident(name: &str) -> Result<()> {
    let page = os::page_size();
    let shmem = open_as_made(name)?; // at most 65536 pages, as `run` makes
    let (base, quarter) = (shmem.as_ptr(), shmem.len() / page / 4);
    let here = || resident_pages(base, page);
    println!("helper: mapped it; resident pages here: {}", here()?);
    // SAFETY: below len(), inside the mapping; the creator waits for this helper and
    // writes nothing meanwhile, so none of these reads races.
    let mid = unsafe { base.add(quarter / 2 * page).read_volatile() };
    let n = here()?;
    print!("helper: read 1 byte ({mid}) of page {}; ", quarter / 2 + 1);
    println!("resident here: {n} pages, {} KiB", n * page / 1024);
    let mut sum = 0u64;
    for p in 0..quarter {
        // SAFETY: p * page < len(); no writer meanwhile, as above.
        sum += u64::from(unsafe { base.add(p * page).read_volatile() });
    }
    let in_shm = reserved_bytes(name)? as usize / page;
    print!("helper: read those {quarter} pages (sum {sum}); ");
    println!("resident pages here: {}; in /dev/shm: {in_shm}", here()?);
    let untouched = shmem.len() / page / 2; // in the half no process wrote
                                            // SAFETY: below len(); no writer meanwhile, as above.
    let v = unsafe { base.add(untouched * page).read_volatile() };
    let in_shm = reserved_bytes(name)? as usize / page;
    print!("helper: read 1 byte ({v}) of page {}, ", untouched + 1);
    println!("which no process wrote: in /dev/shm: {in_shm}");
    Ok(())
}
// ANCHOR_END: resident
