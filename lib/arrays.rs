//! The Arrays chapter's plumbing: opening a segment that must be one (never a FIFO or a
//! directory), a plain segment that is not an array, and the test values `sin(i)`.
//!
//! None of this is the chapter's lesson; its listings call these functions by name.

use std::ops::Range;

use anyhow::Result;
use shared_memory::Shmem;

use crate::cleanup::{self, Tracked};

pub use crate::os::open_segment;

/// A segment of `size` bytes that is not an array, removed on every way out.
pub fn plain_segment(size: usize) -> Result<Tracked<Shmem>> {
    cleanup::unique_segment("arrays", size)
}

/// Writes `sin(i)` for every `i` of `range` into `out`.
pub fn sin_of_index(range: Range<usize>, out: &mut [f64]) {
    for (slot, i) in out.iter_mut().zip(range) {
        *slot = (i as f64).sin();
    }
}

/// How many of `values` are, bit for bit, `sin(i)` of their index.
pub fn count_sin(values: &[f64]) -> usize {
    let same = |(i, v): (usize, &f64)| v.to_bits() == (i as f64).sin().to_bits();
    values.iter().enumerate().filter(|&iv| same(iv)).count()
}
