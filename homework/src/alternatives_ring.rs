// Generated from solutions/ by `cargo run -p grade -- starter`: in the book's
// repository edit solutions/ instead. Students: this file is yours to complete.

//! Alternatives, exercise 2: a single-producer single-consumer ring buffer in a segment.
//!
//! When a pipe is too slow, two processes can pass numbers through a ring in shared
//! memory: the producer writes a slot and then advances `head`, the consumer reads a
//! slot and then advances `tail`. Neither ever waits for a lock. The grader checks the
//! ring in one process (empty, full, wrap-around), then runs a producer and a consumer
//! process on one ring and checks that 200 000 numbers arrive, all of them, in order,
//! and model-checks a copy of this file with loom, where x86 cannot hide an ordering.

use std::sync::atomic::{AtomicU64, Ordering};

// ANCHOR: ring
/// How many values the ring holds (a power of two).
pub const CAPACITY: usize = 1024;

/// The segment's layout; all zeros (a fresh segment) is an empty ring. `head` and
/// `tail` count every value ever pushed and popped; they never wrap back to 0.
#[repr(C)]
pub struct Ring {
    /// Values pushed so far; written only by the producer.
    pub head: AtomicU64,
    _own_cache_line: [u64; 7],
    /// Values popped so far; written only by the consumer.
    pub tail: AtomicU64,
    _own_cache_line_too: [u64; 7],
    /// Value number `i` lives in `slots[i % CAPACITY]`.
    pub slots: [AtomicU64; CAPACITY],
}
// ANCHOR_END: ring

// ANCHOR: task
impl Ring {
    /// Producer only: adds `value`, or returns false when the ring is full.
    pub fn push(&self, value: u64) -> bool {
        todo!("refuse when full; else write the slot, then advance head")
    }

    /// Consumer only: takes the oldest value, or None when the ring is empty.
    pub fn pop(&self) -> Option<u64> {
        todo!("return None when empty; else read the slot, then advance tail")
    }
}
// ANCHOR_END: task
