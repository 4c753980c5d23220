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
/// and reading pages the first process already touched adds nothing to /dev/shm.
pub fn resident(name: &str) -> Result<()> {
    let page = os::page_size();
    let shmem = open_as_made(name)?; // 1 to 65536 pages, as `run` makes it
    let base = shmem.as_ptr();
    let here = || resident_pages(base, page);
    println!("helper: mapped it; resident pages here: {}", here()?);
    // SAFETY: offset 0 is inside the mapping; the creator waits for this helper and
    // does not write meanwhile, so this read races with nothing.
    let first = unsafe { base.read_volatile() };
    println!(
        "helper: read 1 byte ({first}) of page 1; resident pages here: {}",
        here()?
    );
    let quarter = shmem.len() / page / 4;
    let mut sum = 0u64;
    for p in 0..quarter {
        // SAFETY: p * page < len(): inside the mapping; the creator does not write
        // meanwhile, so this read races with nothing.
        sum += u64::from(unsafe { base.add(p * page).read_volatile() });
    }
    let in_shm = reserved_bytes(name)? as usize / page;
    let here = here()?;
    print!("helper: read those {quarter} pages (sum {sum}); ");
    println!("resident pages here: {here}; in /dev/shm: {in_shm}");
    Ok(())
}
// ANCHOR_END: resident
