//! Bounded waiting for another process.
//!
//! Every wait on another process in the book has a time limit. [`until`] checks a
//! condition — usually a flag in shared memory — spinning briefly, then yielding, then
//! sleeping for growing intervals up to a millisecond, and gives up with a clear error
//! when the time is over.

use std::time::{Duration, Instant};

/// Waits until `ready()` returns true, for at most `timeout`.
///
/// `what` names the event waited for, for the error: "timed out after 20 s waiting for
/// the helper's answer".
pub fn until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut round: u32 = 0;
    loop {
        if ready() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            anyhow::bail!(
                "timed out after {} s waiting for {what}",
                timeout.as_secs_f64()
            );
        }
        round = round.saturating_add(1);
        match round {
            0..=100 => std::hint::spin_loop(),
            101..=200 => std::thread::yield_now(),
            _ => std::thread::sleep(Duration::from_micros(u64::from(round.min(1000)))),
        }
    }
}

/// Retries `attempt` until it succeeds or `timeout` has passed; returns the last error
/// then. Used to open a segment that another process is still creating.
pub fn retry<T, E>(timeout: Duration, mut attempt: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let start = Instant::now();
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() >= timeout => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// Like [`retry`], but gives up at once on an error for which `transient` is false.
///
/// ```
/// # use std::time::Duration;
/// let mut calls = 0;
/// let r: Result<(), &str> = shmbook::wait::retry_while(
///     Duration::from_secs(5),
///     || { calls += 1; Err(if calls < 3 { "not yet" } else { "denied" }) },
///     |e| *e == "not yet",
/// );
/// assert_eq!((r, calls), (Err("denied"), 3));
/// ```
pub fn retry_while<T, E>(
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<T, E>,
    transient: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let start = Instant::now();
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if !transient(&e) || start.elapsed() >= timeout => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_with_a_clear_error() {
        let e = until("nothing", Duration::from_millis(20), || false).unwrap_err();
        assert_eq!(e.to_string(), "timed out after 0.02 s waiting for nothing");
    }

    #[test]
    fn returns_when_ready() {
        let mut n = 0;
        until("three calls", Duration::from_secs(5), || {
            n += 1;
            n == 3
        })
        .unwrap();
        assert_eq!(n, 3);
    }
}
