//! Section "Growing a segment": move to a bigger segment and leave a note in the old
//! one saying where the data went.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Result};
use shared_memory::Shmem;
use shmbook::cleanup::Tracked;
use shmbook::helper::Helper;
use shmbook::{names, os, sizing, wait, yes_no, PROCESS_TIMEOUT};

// ANCHOR: note
/// The first NOTE bytes of the old segment: flag word MOVED, flag word OPENED (the
/// helper has the old segment), and at NAME the new segment's name.
const NOTE: usize = 64;
const MOVED: usize = 0;
const OPENED: usize = 1;
const NAME: std::ops::Range<usize> = 16..48;

/// Flag word `i` (MOVED or OPENED) of the note, as an atomic.
fn flag(shmem: &Shmem, i: usize) -> &AtomicU32 {
    assert!(i <= OPENED && shmem.len() >= NOTE);
    // SAFETY: the mapping is page-aligned and at least NOTE bytes long, so word i is
    // aligned and inside it; the reference lives no longer than `shmem`; every process
    // accesses these words only atomically.
    unsafe { &*shmem.as_ptr().add(4 * i).cast::<AtomicU32>() }
}
// ANCHOR_END: note

// ANCHOR: grow
pub fn run() -> Result<()> {
    let page = os::page_size();
    let mut old = sizing::segment(page)?;
    // SAFETY: no other process has the segment yet.
    unsafe { old.as_slice_mut()[NOTE..].fill(42) };
    println!("creator: a {}-byte segment, full of data", old.len());
    let follower = Helper::spawn("_follow", &[old.get_os_id()])?;
    wait::until("the helper to open the segment", PROCESS_TIMEOUT, || {
        flag(&old, OPENED).load(Ordering::Acquire) == 1
    })?;
    let needed = 4 * page;
    println!("creator: needs {needed} bytes; a Shmem cannot grow");
    let _new = move_to(&old, needed)?;
    println!("creator: made a bigger one, copied the data, left its name in the old one");
    follower.wait_ok(PROCESS_TIMEOUT)?;
    let old_name = old.get_os_id().to_string();
    drop(old); // the owner's drop removes the old segment
    let exists = yes_no(os::shm_exists(&old_name)?);
    println!("creator: removed the old segment; it exists: {exists}");
    Ok(())
}
// ANCHOR_END: grow

// ANCHOR: move
/// A new segment of `size` bytes holding the data of `old`, its name left in `old`'s
/// note for whoever still uses `old`.
fn move_to(old: &Shmem, size: usize) -> Result<Tracked<Shmem>> {
    let mut new = sizing::segment(size)?;
    // SAFETY: the new segment is not known to anyone yet; the old one is only read.
    unsafe { new.as_slice_mut()[..old.len()].copy_from_slice(old.as_slice()) };
    let name = new.get_os_id().as_bytes();
    // SAFETY: NAME is inside the mapping, still zero, and holds any name (at most 31
    // bytes); the helper reads it only after it sees the Release store below.
    unsafe {
        old.as_ptr()
            .add(NAME.start)
            .copy_from(name.as_ptr(), name.len())
    };
    flag(old, MOVED).store(1, Ordering::Release);
    Ok(new)
}
// ANCHOR_END: move

// ANCHOR: follow
pub fn follow(old_name: &str) -> Result<()> {
    let old = sizing::open(old_name)?;
    let old_len = old.len();
    if !(NOTE..=OLD_MAX).contains(&old_len) {
        bail!("{old_name} has {old_len} bytes: not an old segment of `grow`");
    }
    println!("helper:  opened the old segment: {old_len} bytes");
    flag(&old, OPENED).store(1, Ordering::Release);
    wait::until("the segment to move", PROCESS_TIMEOUT, || {
        flag(&old, MOVED).load(Ordering::Acquire) == 1
    })?;
    // SAFETY: written before the Release store we observed; nobody writes it again.
    let new_name = name_in(unsafe { &old.as_slice()[NAME] })?;
    drop(old);
    let new = sizing::open(&new_name)?;
    if new.len() < old_len {
        bail!(
            "{new_name} has {} bytes: smaller than the old segment",
            new.len()
        );
    }
    // SAFETY: the creator finished writing the new segment before publishing its name.
    let intact = unsafe { new.as_slice()[NOTE..old_len].iter().all(|&b| b == 42) };
    let (len, intact) = (new.len(), yes_no(intact));
    println!("helper:  followed the note to the new segment: {len} bytes, data intact: {intact}");
    Ok(())
}
// ANCHOR_END: follow

/// The largest old segment the helper follows: `grow` makes one of a page; reading a
/// huge sparse one would allocate its holes.
const OLD_MAX: usize = 1 << 20;

/// The segment name in a zero-padded field, checked like a name the reader typed.
fn name_in(field: &[u8]) -> Result<String> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let field = &field[..end];
    let word = std::str::from_utf8(field).map_err(|_| {
        anyhow::anyhow!("the note's name is not text: \"{}\"", field.escape_ascii())
    })?;
    names::check(word).map_err(anyhow::Error::msg)
}
