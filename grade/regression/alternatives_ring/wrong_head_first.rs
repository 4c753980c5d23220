// WRONG (memory ordering): advances head before writing the slot.
// expect: fail memory model | the consumer
//! Alternatives, exercise 2: a single-producer single-consumer ring buffer in a segment.
//!
//! When a pipe is too slow, two processes can pass numbers through a ring in shared
//! memory: the producer writes a slot and then advances `head`, the consumer reads a
//! slot and then advances `tail`. Neither ever waits for a lock. The grader checks the
//! ring in one process (empty, full, wrap-around), then runs a producer and a consumer
//! process on one ring and checks that 200 000 numbers arrive, all of them, in order.

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
        let head = self.head.load(Ordering::Relaxed); // only we write head
        let tail = self.tail.load(Ordering::Acquire); // the consumer is done with it
        if head - tail == CAPACITY as u64 {
            return false;
        }
        self.head.store(head + 1, Ordering::Release);
        self.slots[head as usize % CAPACITY].store(value, Ordering::Relaxed);
        true
    }

    /// Consumer only: takes the oldest value, or None when the ring is empty.
    pub fn pop(&self) -> Option<u64> {
        let tail = self.tail.load(Ordering::Relaxed); // only we write tail
        let head = self.head.load(Ordering::Acquire); // pairs with push's Release
        if tail == head {
            return None;
        }
        let value = self.slots[tail as usize % CAPACITY].load(Ordering::Relaxed);
        // Release: we have read the slot before the producer may reuse it.
        self.tail.store(tail + 1, Ordering::Release);
        Some(value)
    }
}
// ANCHOR_END: task
