//! Section "Memory is taken lazily": pages are allocated as processes touch them, and a
//! second process maps the same pages instead of copies.

use anyhow::{bail, Result};
use shmbook::helper::Helper;
use shmbook::{cli, os, sizing, PROCESS_TIMEOUT};

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

/// The most pages `lazy --pages` accepts.
const MAX_PAGES: u64 = 65536;

/// Opens the segment `name` for the helper, which reads a quarter of its pages: a
/// segment larger than `run` makes is refused, since reading the holes of a huge sparse
/// segment would allocate them.
fn open_as_made(name: &str) -> Result<shared_memory::Shmem> {
    let shmem = sizing::open(name)?; // len() >= 1: mmap refuses an empty segment
    let pages = shmem.len().div_ceil(os::page_size()) as u64;
    if pages > MAX_PAGES {
        bail!("{name} has {pages} pages; `lazy` makes at most {MAX_PAGES}");
    }
    Ok(shmem)
}

/// `--pages`: 64 to 65536, and the quarter of them that `lazy` touches must fit in the
/// free space of /dev/shm, so that the run is refused before it allocates anything.
pub fn pages(word: &str) -> Result<usize, String> {
    let pages = cli::count(64, MAX_PAGES)(word)? as usize;
    let touched = (pages / 4 * os::page_size()) as u64;
    match sizing::dev_shm_space() {
        Ok((_, free)) if touched > free => Err(format!(
            "{pages} pages: touching a quarter of them takes {touched} bytes, \
             and /dev/shm has {free} free"
        )),
        _ => Ok(pages),
    }
}

/// How many pages of the mapping that starts at `start` are in this process's memory,
/// from the `Rss:` line of its entry in /proc/self/smaps (in kB).
#[cfg(target_os = "linux")]
fn resident_pages(start: *const u8, page: usize) -> Result<usize> {
    use anyhow::Context;
    let smaps = std::fs::read_to_string("/proc/self/smaps").context("reading /proc/self/smaps")?;
    let header = format!("{:x}-", start as usize);
    let mut in_entry = false;
    for line in smaps.lines() {
        if line.starts_with(|c: char| c.is_ascii_hexdigit()) && line.contains('-') {
            in_entry = line.starts_with(&header);
        } else if let (true, Some(kb)) = (in_entry, line.strip_prefix("Rss:")) {
            let kb: usize = kb.trim().trim_end_matches("kB").trim().parse()?;
            return Ok(kb * 1024 / page);
        }
    }
    bail!("no mapping at {start:?} in /proc/self/smaps")
}

/// `/proc/self/smaps` is Linux's.
#[cfg(not(target_os = "linux"))]
fn resident_pages(_start: *const u8, _page: usize) -> Result<usize> {
    bail!("not supported on this system: it reads /proc/self/smaps")
}
