//! Sizing, exercise 1: how many pages does a segment of `len` bytes span?
//!
//! The system maps memory in whole pages: a segment of `len` bytes occupies
//! `len` rounded up to whole pages, and the bytes between `len` and the end of the
//! last page can be touched (they read as zeros) without a fault. The grader compares
//! your answer with the page size of the machine it runs on — for small, exact, huge
//! and varying lengths — and then touches the last byte of the last page in real
//! segments.

// ANCHOR: task
/// The number of pages a mapping of `len` bytes spans on this machine; 0 for 0.
/// Must not overflow, even for `usize::MAX`.
pub fn pages(len: usize) -> usize {
    // STARTER: todo!("ask the system for its page size and round len up")
    // SOLUTION: begin
    len.div_ceil(shmbook::os::page_size())
    // SOLUTION: end
}
// ANCHOR_END: task
