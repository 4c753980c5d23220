// WRONG (bounds): waits for the flag without looking at the clock.
// expect: fail still waiting
//! Arrays, exercise 2: hand a filled array to another process with a ready flag.
//!
//! A writer process fills `values` and then raises `ready`; a reader process that
//! started earlier waits for the flag and then reads the values. Release on the store
//! and Acquire on the load make the values visible before the flag. The grader starts
//! the reader first, the writer later, and compares what the reader got; it also checks
//! that a reader with nobody writing gives up in time.
//!
//! The grader runs on whatever machine you have; x86 orders memory strongly enough that
//! a `Relaxed` flag usually works there anyway. Use the right orderings regardless: the
//! same code on ARM fails without them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;

// ANCHOR: board
/// How many values a board holds.
pub const CAPACITY: usize = 1024;

/// The segment's layout. All zeros (a fresh segment) is an empty board.
#[repr(C)]
pub struct Board {
    /// 0 until the writer has published; then 1.
    pub ready: AtomicU32,
    /// How many of `values` are used.
    pub len: AtomicU32,
    /// The values; only the first `len` count.
    pub values: [AtomicU64; CAPACITY],
}
// ANCHOR_END: board

// ANCHOR: task
/// Writes `values` to the board and then marks it ready. More than [`CAPACITY`]
/// values is an error (and nothing is published).
pub fn publish(board: &Board, values: &[u64]) -> anyhow::Result<()> {
    if values.len() > CAPACITY {
        bail!("{} values do not fit in {CAPACITY}", values.len());
    }
    for (slot, &v) in board.values.iter().zip(values) {
        slot.store(v, Ordering::Relaxed);
    }
    board.len.store(values.len() as u32, Ordering::Relaxed);
    // Release: every store above becomes visible to a reader that sees ready == 1.
    board.ready.store(1, Ordering::Release);
    Ok(())
}

/// Waits until the board is ready — at most `timeout`, then it is an error — and
/// returns its values.
pub fn read(board: &Board, timeout: Duration) -> anyhow::Result<Vec<u64>> {
    let deadline = Instant::now() + timeout;
    // Acquire: pairs with the writer's Release store.
    while board.ready.load(Ordering::Acquire) == 0 {
        if Instant::now() < deadline - timeout {
            bail!("the board was not ready within {timeout:?}");
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    let len = (board.len.load(Ordering::Relaxed) as usize).min(CAPACITY);
    Ok(board.values[..len]
        .iter()
        .map(|v| v.load(Ordering::Relaxed))
        .collect())
}
// ANCHOR_END: task
