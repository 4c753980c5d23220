// A correct alternative: yields between tries, and checks a planted segment's file in /dev/shm (Linux).
// expect: pass
//! Segments, exercise 1: create a segment, or open it when another process was first.
//!
//! Several processes start at the same moment and call `create_or_open` with the same
//! name. Exactly one of them must create the segment and own it; every other one must
//! open that segment. The grader starts four processes at once, checks that exactly one
//! of them owns the segment, that all four see the same memory, and that the segment is
//! gone once they have all finished.

use std::time::{Duration, Instant};

use anyhow::Context;
use shared_memory::{Shmem, ShmemConf, ShmemError};

// ANCHOR: task
/// Creates the segment `name` of `size` bytes, or opens it if it exists already.
///
/// The returned `Shmem` owns the segment (`is_owner()`) only when this call created
/// it. An opened segment must be at least `size` bytes long. Gives up with an error
/// after about two seconds.
pub fn create_or_open(name: &str, size: usize) -> anyhow::Result<Shmem> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut tries = 0u32;
    loop {
        tries += 1;
        if tries > 1 {
            std::thread::yield_now();
        }
        match ShmemConf::new().size(size).os_id(name).create() {
            Ok(shm) => return Ok(shm),
            Err(ShmemError::MappingIdExists) => {}
            Err(e) => return Err(shmbook::os::explain(e)).context(format!("creating {name}")),
        }
        match ShmemConf::new().os_id(name).open() {
            Ok(shm) if shm.len() >= size => {
                // Planted by someone else? On Linux the segment is a file in /dev/shm.
                use std::os::unix::fs::MetadataExt;
                let file = std::fs::symlink_metadata(format!("/dev/shm{name}"))
                    .with_context(|| format!("looking at {name}"))?;
                anyhow::ensure!(file.uid() == shmbook::os::uid(), "{name} is not ours");
                anyhow::ensure!(file.mode() & 0o077 == 0, "{name} is open to others");
                return Ok(shm);
            }
            Ok(shm) => anyhow::bail!("{name} has {} bytes, not {size}", shm.len()),
            // EINVAL: the creator has made the name but not sized it yet (mmap of an
            // empty object). ENOENT: its owner removed it between our two calls.
            Err(ShmemError::MapOpenFailed(n))
                if (n as i32 == libc::EINVAL || n as i32 == libc::ENOENT)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(shmbook::os::explain(e)).context(format!("opening {name}")),
        }
    }
}
// ANCHOR_END: task
