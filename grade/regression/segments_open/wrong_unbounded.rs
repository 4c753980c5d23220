// WRONG (bounds): retries for ever on a segment that never gets a size.
// expect: fail still trying
//! Segments, exercise 1: create a segment, or open it when another process was first.
//!
//! Several processes start at the same moment and call `create_or_open` with the same
//! name. Exactly one of them must create the segment and own it; every other one must
//! open that segment. The grader starts four processes at once, checks that exactly one
//! of them owns the segment, that all four see the same memory, and that the segment is
//! gone once they have all finished; then it tries a creator that sizes its segment late,
//! one that never does, and a segment smaller than the size asked for.
//!
//! The name may also have been taken by someone else first — *squatted*: `/dev/shm` is
//! writable by every user, and names are easy to guess. A segment this call did not
//! create must belong to this user and be closed to everyone else (no group or other
//! bits in its mode), or `create_or_open` refuses it with an error. The grader plants
//! one with mode 0666 and, when it runs as root, one that belongs to user `nobody`.

use std::time::{Duration, Instant};

use anyhow::Context;
use shared_memory::{Shmem, ShmemConf, ShmemError};

// ANCHOR: task
/// Creates the segment `name` of `size` bytes, or opens it if it exists already.
///
/// The returned `Shmem` owns the segment (`is_owner()`) only when this call created
/// it. An opened segment must be at least `size` bytes long, belong to this user and
/// be closed to other users (`shmbook::os::shm_stat` and `shmbook::os::uid` tell).
/// Gives up with an error after about two seconds.
pub fn create_or_open(name: &str, size: usize) -> anyhow::Result<Shmem> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match ShmemConf::new().size(size).os_id(name).create() {
            Ok(shm) => return Ok(shm),
            Err(ShmemError::MappingIdExists) => {}
            Err(e) => return Err(shmbook::os::explain(e)).context(format!("creating {name}")),
        }
        match ShmemConf::new().os_id(name).open() {
            Ok(shm) if shm.len() >= size => return refuse_strangers(name).map(|()| shm),
            Ok(shm) => anyhow::bail!("{name} has {} bytes, not {size}", shm.len()),
            // EINVAL: the creator has made the name but not sized it yet (mmap of an
            // empty object). ENOENT: its owner removed it between our two calls.
            Err(ShmemError::MapOpenFailed(n))
                if (n as i32 == libc::EINVAL || n as i32 == libc::ENOENT)
                    && deadline > deadline - Duration::from_secs(1) =>
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(shmbook::os::explain(e)).context(format!("opening {name}")),
        }
    }
}
// ANCHOR_END: task

/// Refuses a segment someone else planted under `name`: another user's, or one other
/// users may open. `shared_memory` opens by name and keeps its descriptor to itself, so
/// this looks at the name right after the open; on Linux `/dev/shm` is sticky, so only
/// this user (or root) could have swapped the name in between.
fn refuse_strangers(name: &str) -> anyhow::Result<()> {
    let st = shmbook::os::shm_stat(name)
        .with_context(|| format!("checking {name}"))?
        .with_context(|| format!("{name} vanished while it was being opened"))?;
    if st.uid != shmbook::os::uid() {
        anyhow::bail!(
            "{name} belongs to user {}, not to this one: refused",
            st.uid
        );
    }
    if st.mode & 0o077 != 0 {
        anyhow::bail!(
            "{name} has mode {:04o}: other users may open it: refused",
            st.mode
        );
    }
    Ok(())
}
