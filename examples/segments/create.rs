//! Two processes, one segment: the creator makes it, a helper opens it by name.

use anyhow::{Context, Result};
use shared_memory::{Shmem, ShmemConf};
use shmbook::helper::Helper;
use shmbook::{cleanup, names, os, PROCESS_TIMEOUT};

// ANCHOR: fields
/// Each message lives in a fixed field of the segment: the creator's at offset 0, the
/// helper's answer at offset `FIELD`.
pub const FIELD: usize = 256;

/// Writes `text` (shorter than `FIELD`) into field `at` of the segment, NUL-terminated.
pub fn put(shmem: &mut Shmem, at: usize, text: &str) -> Result<()> {
    let len = shmem.len();
    // SAFETY: no other process touches the segment while this slice lives: the creator
    // and the helper take turns (the creator writes before it starts the helper and
    // reads after the helper has exited).
    let bytes = unsafe { shmem.as_slice_mut() };
    let field = (bytes.get_mut(at..at + FIELD))
        .with_context(|| format!("the segment has {len} bytes, too few for a field at {at}"))?;
    field.fill(0);
    field[..text.len()].copy_from_slice(text.as_bytes());
    Ok(())
}

/// The text in field `at`, up to its first NUL and within the segment's real length,
/// with control characters and non-ASCII bytes escaped for printing.
pub fn get(shmem: &Shmem, at: usize) -> String {
    // SAFETY: as in `put`: the two processes take turns, so nobody writes meanwhile.
    let bytes = unsafe { shmem.as_slice() };
    let field = bytes.get(at..).unwrap_or_default();
    let field = &field[..field.len().min(FIELD)];
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field[..end].escape_ascii().to_string()
}
// ANCHOR_END: fields

// ANCHOR: create
pub fn run(size: usize) -> Result<()> {
    let name = names::unique("segments");
    // The guard removes the name on Ctrl-C or an early `?`. It holds the Shmem in an
    // Option, so that the end can show what the owner's drop does on its own.
    let mut guard = cleanup::segment(&name, || {
        ShmemConf::new().size(size).os_id(&name).create().map(Some)
    })
    .map_err(os::explain)
    .with_context(|| format!("creating {name}"))?;
    let mut shmem = guard.take().expect("create returned the Shmem");
    println!("creator: created {name}, {} bytes", shmem.len());

    put(&mut shmem, 0, "hello from the creator")?;
    println!("creator: wrote \"hello from the creator\"; starting a helper");
    // The helper is this program again, told which segment to open.
    Helper::spawn("_answer", &[&name])?.wait_ok(PROCESS_TIMEOUT)?;

    println!("creator: read \"{}\"", get(&shmem, FIELD));
    drop(shmem); // the owner's drop unmaps the segment and removes its name
    let exists = yes_no(os::shm_exists(&name)?);
    println!("creator: dropped the owner's Shmem; {name} exists: {exists}");
    Ok(())
}
// ANCHOR_END: create

// ANCHOR: answer
pub fn answer(name: &str) -> Result<()> {
    let mut shmem = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))?;
    println!("helper:  opened {name} by name, {} bytes", shmem.len());
    println!("helper:  read \"{}\"", get(&shmem, 0));
    put(&mut shmem, FIELD, "hello back from the helper").context("answering")?;
    println!("helper:  wrote \"hello back from the helper\" and exits");
    Ok(()) // dropping an opener's Shmem only unmaps it
}
// ANCHOR_END: answer

/// `true` as "yes", `false` as "no".
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
