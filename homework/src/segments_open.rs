// Generated from solutions/ by `cargo run -p grade -- starter`: in the book's
// repository edit solutions/ instead. Students: this file is yours to complete.

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
    todo!("create the segment; if it exists, open it")
}
// ANCHOR_END: task
