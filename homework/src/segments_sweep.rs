// Generated from solutions/ by `cargo run -p grade -- starter`: in the book's
// repository edit solutions/ instead. Students: this file is yours to complete.

//! Segments, exercise 2: find and remove the segments crashed processes left behind.
//!
//! The book's examples name their segments `PREFIX-PID-N`: the prefix says which
//! program made it, `PID` is the process id of its creator and `N` counts. A process
//! killed before its `Shmem` was dropped leaves its segment in `/dev/shm`. The grader
//! leaves segments of dead processes, of a running process, of a process of another
//! user, and of other prefixes, and checks that `sweep` removes exactly the dead
//! processes' ones.

use std::path::Path;

use anyhow::Context;

// ANCHOR: task
/// Removes every segment called `{prefix}-{pid}-{n}` (with `prefix` starting with `/`,
/// `pid` and `n` decimal numbers) whose process `pid` no longer runs, and returns the
/// names it removed, with their leading `/`, sorted. Other segments stay untouched.
/// Linux only: the segments are listed from `/dev/shm`.
pub fn sweep(prefix: &str) -> anyhow::Result<Vec<String>> {
    todo!("list /dev/shm, pick {prefix}-PID-N names whose PID is dead, remove them")
}
// ANCHOR_END: task
