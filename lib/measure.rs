//! Measuring a transfer: the test array, its checksum, its bytes, page faults, CPU
//! times, a clock every process shares, and the units the Alternatives chapter prints
//! (GB/s, ns/µs/ms).
//!
//! The chapter moves the same array every way — through shared memory, pipes, sockets,
//! Redis, MPI — and every way checks it with the same checksum, so the functions live
//! here once, for the `alternatives` example and the `alternatives-mpi` program.
//! [`cpu_times`] serves the Arrays chapter's pool comparison, [`now_ns`] the
//! Semaphores chapter's counter.

use std::time::Duration;

// ANCHOR: array
/// The array: `n` values, the same on every run.
pub fn make_array(n: usize) -> Vec<f64> {
    let mut values = vec![0.0; n];
    fill_array(&mut values);
    values
}

/// Writes the array's values into memory that is already there (a segment, say).
pub fn fill_array(values: &mut [f64]) {
    for (i, v) in values.iter_mut().enumerate() {
        *v = i as f64 * 0.5;
    }
}

/// A checksum of the array's bits that notices a changed, lost or reordered value.
pub fn checksum(values: &[f64]) -> u64 {
    values
        .iter()
        .fold(0u64, |acc, v| acc.rotate_left(5) ^ v.to_bits())
}
// ANCHOR_END: array

/// The array's bytes, for writing them to a pipe, a socket or a mapping.
pub fn as_bytes(values: &[f64]) -> &[u8] {
    // SAFETY: f64 has no padding and all its bytes are initialized; u8 has alignment 1;
    // the slice covers exactly the same memory and borrows `values`.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// The array's bytes, for reading into it from a pipe or a socket.
pub fn as_bytes_mut(values: &mut [f64]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; in addition every bit pattern is a valid f64, so any
    // bytes written through the returned slice leave valid values behind.
    unsafe {
        std::slice::from_raw_parts_mut(
            values.as_mut_ptr().cast::<u8>(),
            std::mem::size_of_val(values),
        )
    }
}

/// Minor page faults of this process so far (`getrusage(RUSAGE_SELF)`, `ru_minflt`):
/// each one is the system mapping a page on first touch.
pub fn minor_faults() -> u64 {
    use nix::sys::resource::{getrusage, UsageWho};
    // RUSAGE_SELF is always valid: the call cannot fail.
    getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| u.minor_page_faults() as u64)
}

/// CPU time (user + system) used so far by this process, and by its children that
/// have been waited for (POSIX `getrusage`).
pub fn cpu_times() -> anyhow::Result<(Duration, Duration)> {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = |who| -> anyhow::Result<Duration> {
        let r = getrusage(who).map_err(|e| anyhow::anyhow!("getrusage: {e}"))?;
        let t = |tv: nix::sys::time::TimeVal| {
            Duration::from_secs(tv.tv_sec() as u64) + Duration::from_micros(tv.tv_usec() as u64)
        };
        Ok(t(r.user_time()) + t(r.system_time()))
    };
    Ok((
        usage(UsageWho::RUSAGE_SELF)?,
        usage(UsageWho::RUSAGE_CHILDREN)?,
    ))
}

/// CLOCK_MONOTONIC in nanoseconds: unlike `Instant`, comparable between processes.
pub fn now_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC always exists");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// "4 MiB", "64 KiB", "5000 bytes".
pub fn size_text(bytes: usize) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// "13.91 GB/s": decimal gigabytes per second, as memory and network speeds are quoted.
pub fn rate_text(bytes: usize, time: Duration) -> String {
    format!("{:.2} GB/s", bytes as f64 / time.as_secs_f64() / 1e9)
}

/// "820 ns", "41.3 µs", "17.2 ms", "1.35 s".
pub fn duration_text(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// True when a debug build is asked to measure something large: its numbers would
/// mislead, so the examples then say to add `--release`.
pub fn warn_if_debug(large: bool) {
    if cfg!(debug_assertions) && large {
        println!("(a debug build: add --release to cargo run for real speeds)");
    }
}

/// The checksum column: "match " (padded to the width of "DIFFER") or "DIFFER".
pub fn match_text(matched: bool) -> &'static str {
    if matched {
        "match "
    } else {
        "DIFFER"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_notices_a_swap_and_a_change() {
        let a = make_array(1000);
        let mut b = a.clone();
        b.swap(10, 11);
        assert_ne!(checksum(&a), checksum(&b));
        let mut c = a.clone();
        c[999] += 1.0;
        assert_ne!(checksum(&a), checksum(&c));
        assert_eq!(checksum(&a), checksum(&a.clone()));
    }

    #[test]
    fn units() {
        assert_eq!(size_text(4 << 20), "4 MiB");
        assert_eq!(
            rate_text(1_000_000_000, Duration::from_millis(500)),
            "2.00 GB/s"
        );
        assert_eq!(duration_text(Duration::from_nanos(820)), "820 ns");
        assert_eq!(duration_text(Duration::from_nanos(41_300)), "41.3 µs");
        assert_eq!(as_bytes(&[1.0f64]).len(), 8);
    }
}
