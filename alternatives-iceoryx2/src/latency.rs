//! The 8-byte round trip with iceoryx2, both sides spinning, as a distribution
//! (hdrhistogram), beside the floor measured in the same run: two threads of one
//! process bouncing one cache line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use hdrhistogram::Histogram;
use iceoryx2::prelude::*;
use shmbook::measure::duration_text;

use shmbook::process::describe;

use crate::{go_on, helper, node, service_name, spin_until, HELPER_EXIT};

/// The echo's first message, and the producer's last: not a round trip.
const READY: u64 = u64::MAX;

/// Round trips before the clock: both sides' caches and branch predictors warm up.
const WARM_UP: u32 = 100;

type Service =
    iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, u64, ()>;

fn open(node: &Node<ipc::Service>, run: u32, what: &str) -> Result<Service> {
    node.service_builder(&service_name(run, what)?)
        .publish_subscribe::<u64>()
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(2)
        .open_or_create()
        .with_context(|| format!("opening the iceoryx2 service {what}"))
}

// ANCHOR: echo
/// The echo: every message that arrives goes straight back, until READY comes.
pub fn echo(run: u32) -> Result<()> {
    let node = node(run)?;
    let pings = open(&node, run, "ping")?.subscriber_builder().create()?;
    let pongs = open(&node, run, "pong")?.publisher_builder().create()?;
    pongs.send_copy(READY)?;
    loop {
        let ping = spin_until("message from the producer", || {
            Ok(pings.receive()?.map(|s| *s))
        })?;
        if ping == READY {
            return Ok(());
        }
        pongs.send_copy(ping)?;
    }
}
// ANCHOR_END: echo

/// `latency`: `n` timed round trips to the echo; each one goes into the histogram.
pub fn run(n: u32, json: bool) -> Result<()> {
    let run = std::process::id();
    let node = node(run)?;
    let pings = open(&node, run, "ping")?.publisher_builder().create()?;
    let pongs = open(&node, run, "pong")?.subscriber_builder().create()?;
    let mut echo = helper("_echo", run)?;
    let pong = || spin_until("answer from the echo", || Ok(pongs.receive()?.map(|s| *s)));
    ensure!(pong()? == READY, "the echo's first message was not READY");
    crate::domain::log_names(run); // every segment of the run exists now
                                   // ANCHOR: round_trip
    let mut histogram = new_histogram()?;
    for i in 0..WARM_UP + n {
        let start = Instant::now();
        pings.send_copy(u64::from(i))?;
        ensure!(
            pong()? == u64::from(i),
            "the echo sent back another message"
        );
        if i >= WARM_UP {
            histogram.record(start.elapsed().as_nanos() as u64)?;
        }
    }
    // ANCHOR_END: round_trip
    pings.send_copy(READY)?;
    let status = echo.wait_until(Instant::now() + HELPER_EXIT)?;
    let status = status.context("the echo did not end")?;
    ensure!(status.success(), "the echo failed ({})", describe(status));
    let floor = cache_line_floor(n)?;
    report(n, &floor, &histogram, json)
}

fn new_histogram() -> Result<Histogram<u64>> {
    // 1 ns to 10 s, 3 significant digits.
    Histogram::new_with_bounds(1, 10_000_000_000, 3).context("making a histogram")
}

/// Two threads bounce one cache line `n` times (after a warm-up): the fastest any two
/// cores can answer each other, measured the same way as the round trip above.
fn cache_line_floor(n: u32) -> Result<Histogram<u64>> {
    let line = AtomicU64::new(0);
    let mut histogram = new_histogram()?;
    let total = u64::from(WARM_UP + n);
    std::thread::scope(|s| -> Result<()> {
        s.spawn(|| {
            // The echo thread: answers every odd value with the next even one.
            for i in 0..total {
                while line.load(Ordering::Acquire) != 2 * i + 1 {
                    if go_on().is_err() {
                        return;
                    }
                    std::hint::spin_loop();
                }
                line.store(2 * i + 2, Ordering::Release);
            }
        });
        for i in 0..total {
            let start = Instant::now();
            line.store(2 * i + 1, Ordering::Release);
            spin_until("the other thread", || {
                Ok((line.load(Ordering::Acquire) == 2 * i + 2).then_some(()))
            })?;
            if i >= u64::from(WARM_UP) {
                histogram.record(start.elapsed().as_nanos() as u64)?;
            }
        }
        Ok(())
    })?;
    Ok(histogram)
}

fn report(n: u32, floor: &Histogram<u64>, ice: &Histogram<u64>, json: bool) -> Result<()> {
    let p = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q);
    let ratio = p(ice, 0.5) as f64 / p(floor, 0.5) as f64;
    let labels = [
        ("floor", "floor: two threads, one process", floor),
        ("iceoryx2_spin", "iceoryx2, publish-subscribe", ice),
    ];
    if json {
        return crate::report::print_latency(n, &labels, ratio);
    }
    let t = |ns: u64| duration_text(Duration::from_nanos(ns));
    println!("an 8-byte message to another process and back, {n} round trips, both sides spinning");
    for (_, label, h) in labels {
        let (p50, p99, p999) = (t(p(h, 0.5)), t(p(h, 0.99)), t(p(h, 0.999)));
        println!("{label:<32} p50 {p50}  p99 {p99}  p99.9 {p999}");
    }
    println!("iceoryx2's p50 is {ratio:.1} × the floor's, measured in the same run");
    Ok(())
}
