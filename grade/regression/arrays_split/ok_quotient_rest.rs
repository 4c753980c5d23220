// OK: k·(n / w) plus ⌊k·(n mod w) / w⌋, which needs no wider integer; fill with a plain load and store (its part is its own).
// expect: pass
//! Arrays, exercise 3: split `n` items over `w` workers.
//!
//! A pool of worker processes shares one array in a segment; each worker takes a part
//! of it and touches nothing else, so they need no lock. The parts must cover every
//! item exactly once, and be as even as possible: no part more than one item longer
//! than another, as NumPy's `np.array_split` makes them. The grader asks `part` about
//! many pairs of `n` and `w` (fewer items than workers, `n` not divisible by `w`, one
//! worker, `n` near `usize::MAX`), then starts `w` processes on a shared array of
//! counters, each running `fill` for its part, and counts how often each item was
//! touched.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

// ANCHOR: task
/// The items worker `i` of `w` takes out of `0..n`. The parts of workers `0, 1, …,
/// w - 1`, in that order, follow each other and together are exactly `0..n`; no part is
/// more than one item longer than another. `w` is at least 1 and `i` less than `w`.
/// Must not overflow, whatever `n` is.
pub fn part(n: usize, w: usize, i: usize) -> Range<usize> {
    // Worker k starts at k·n/w, computed in u128 so that k·n cannot overflow.
    let (q, r) = (n / w, n % w);
    let at = |k: usize| k * q + k * r / w;
    at(i)..at(i + 1)
}

/// Worker `i` of `w`'s share of the job, in its own process: add 1 to every counter of
/// its part of `counts` (the whole shared array; the other workers add to theirs at
/// the same time).
pub fn fill(counts: &[AtomicU32], w: usize, i: usize) {
    let mine = part(counts.len(), w, i);
    for c in &counts[mine] {
        let v = c.load(Ordering::Relaxed);
        c.store(v + 1, Ordering::Relaxed);
    }
}
// ANCHOR_END: task
