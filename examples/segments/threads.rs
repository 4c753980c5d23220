//! `Shmem` is not `Send`: keep it on one thread, lend the threads a `Sync` view.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use shared_memory::{Shmem, ShmemConf};
use shmbook::{cleanup, names, os};

use crate::create::yes_no;

// ANCHOR: as_atomics
/// A view of the mapping as atomics. `&[AtomicU64]` is `Send` and `Sync`, so scoped
/// threads may share it; its lifetime is tied to the `Shmem`, which stays put.
pub fn as_atomics(shmem: &Shmem) -> &[AtomicU64] {
    // SAFETY: the mapping starts on a page boundary (mmap), so it is aligned for u64;
    // len / 8 whole words lie inside the mapping; the mapping lives as long as `shmem`,
    // which the returned borrow cannot outlive; atomics may be accessed from several
    // threads and processes at once, and every access in this example goes through them.
    unsafe { std::slice::from_raw_parts(shmem.as_ptr() as *const AtomicU64, shmem.len() / 8) }
}
// ANCHOR_END: as_atomics

// ANCHOR: threads
pub fn run() -> Result<()> {
    let name = names::unique("segments");
    let shmem = cleanup::segment(&name, || ShmemConf::new().size(4096).os_id(&name).create())
        .map_err(os::explain)?;
    let words = as_atomics(&shmem);
    let quarter = words.len() / 4;
    std::thread::scope(|s| {
        for (t, part) in words.chunks(quarter).enumerate() {
            s.spawn(move || {
                for w in part {
                    w.store(t as u64 + 1, Ordering::Relaxed);
                }
            });
        }
    });
    let right = (words.iter().enumerate())
        .all(|(i, w)| w.load(Ordering::Relaxed) == (i / quarter) as u64 + 1);
    let (len, right) = (shmem.len(), yes_no(right));
    println!("4 threads filled their quarters of a {len}-byte segment; all words right: {right}");
    println!("the Shmem itself never left the main thread");
    Ok(())
}
// ANCHOR_END: threads
