// WRONG (partial): the size the segment was created with.
// expect: fail st_size
//! Sizing, exercise 2: how much memory has a segment really taken?
//!
//! Creating a segment of a gigabyte costs nothing yet: tmpfs, the file system behind
//! `/dev/shm`, reserves a page only when it is first written. The grader creates a
//! segment of 16 pages, writes to some of them, and asks your function after each step.

// ANCHOR: task
/// The bytes the system has really reserved for the segment `name` (not the size it
/// was created with). Linux only.
pub fn reserved_bytes(name: &str) -> anyhow::Result<u64> {
    use anyhow::Context;
    use std::os::unix::fs::MetadataExt;
    let path = format!("/dev/shm{name}");
    let meta = std::fs::metadata(&path).with_context(|| format!("reading {path}"))?;
    // st_blocks counts 512-byte units whatever the file system's block size.
    Ok(meta.len())
}
// ANCHOR_END: task
