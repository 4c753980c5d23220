// WRONG (floating point, f32): the rank as ⌈k·n/1000⌉ in f32, exact only while k·n < 2^24 (p99.9 of 198 999 samples is one rank too low).
// expect: fail expected
//! Alternatives, exercise 3: latency percentiles.
//!
//! The chapter's `latency` example prints the mean round trip, and a mean hides the
//! slow ones: a few round trips a thousand times slower than the rest barely move it.
//! Latency is described by percentiles instead: p50 (the median), p99, p99.9 — the
//! round trip that 50 %, 99 %, 99.9 % of all round trips did not exceed.
//!
//! Use the nearest-rank definition: sort the `n` samples in ascending order and number
//! them from 1; the percentile of `k` thousandths (500 for p50, 990 for p99, 999 for
//! p99.9) is the sample numbered `⌈k·n / 1000⌉`, but at least 1. It is always one of the
//! samples, never an average of two. The grader feeds recorded-looking sample sets:
//! sizes that are not multiples of 100 or of 1000 and some that are, one sample,
//! duplicates, samples in any order.

// ANCHOR: task
/// The nearest-rank percentile of `per_mille` thousandths (1 to 1000) of `samples`
/// (round trips, in nanoseconds, in any order): the sample at rank
/// `⌈per_mille · n / 1000⌉` of the `n` samples sorted. `None` when there are no
/// samples, or `per_mille` is outside 1 to 1000.
pub fn percentile(samples: &[u64], per_mille: u32) -> Option<u64> {
    if samples.is_empty() || !(1..=1000).contains(&per_mille) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    // In integers: ⌈k·n/1000⌉ exactly, where floating point may be one off.
    let rank = (per_mille as f32 * sorted.len() as f32 / 1000.0).ceil() as usize;
    Some(sorted[rank.max(1) - 1])
}
// ANCHOR_END: task
