//! Small messages: an 8-byte message to a helper process and back, `n` times, every
//! way, each round trip timed on its own once both sides are ready. The percentiles
//! show the two floors: a cache line moving between cores, and a sleep and wake-up
//! through the kernel. The first row is the first floor measured without processes.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use raw_sync::events::EventState;
use redis::Commands;
use shmbook::alternatives::{
    accept, attach_page, connect, events, listen, page_segment, redis_client, spawn_helper,
    spin_until, timed_round_trips, wait_limit, words, Pinned, Way, LATENCY, PAGE,
};
use shmbook::helper::Helper;
use shmbook::measure::duration_text;
use shmbook::record::{Latency, LatencyRow};
use shmbook::sync::SyncContext;
use shmbook::PROCESS_TIMEOUT;

use crate::job::{not_run, ratio_text};
use crate::redis_way;

pub fn run(n: u32, ways: &[Way], given: Option<&str>) -> Result<Latency> {
    println!("an 8-byte message to another process and back: {n} round trips per way, each timed");
    shmbook::measure::warn_if_debug(n > 200);
    let mut result = Latency {
        n,
        ..Latency::default()
    };
    for &way in if ways.is_empty() { LATENCY } else { ways } {
        let times = match way {
            Way::Floor => floor(n)?,
            Way::Spin => spin(n)?,
            Way::Event => event(n)?,
            Way::Pipe => pipe(n)?,
            Way::Socket => socket(n)?,
            Way::Redis => match redis_way::server(given)? {
                Some(server) => redis(&server, n)?,
                None => {
                    not_run::<()>(way, redis_way::MISSING)?;
                    continue;
                }
            },
            _ => bail!("'{}' is a throughput way", way.name()),
        };
        let row = LatencyRow::new(&way.name(), way.label(), &times);
        let text = |ns| duration_text(std::time::Duration::from_nanos(ns));
        println!(
            "{:<24} p50 {}  p99 {}  p99.9 {}",
            row.label,
            text(row.p50_ns),
            text(row.p99_ns),
            text(row.p999_ns)
        );
        result.rows.push(row);
    }
    let p50 = |way: &str| {
        result
            .rows
            .iter()
            .find(|r| r.way == way)
            .map(|r| r.p50_ns as f64)
    };
    if let (Some(spin), Some(floor)) = (p50("spin"), p50("floor")) {
        let ratio = spin / floor.max(1.0);
        println!(
            "the spinning segment's p50 is {} × the floor's",
            ratio_text(ratio)
        );
        result.spin_over_floor = Some(ratio);
    }
    Ok(result)
}

/// The other end of each way: answers every message with the same 8 bytes.
pub fn echo(way: Way, peer: &str, n: u32) -> Result<()> {
    match way {
        Way::Spin => echo_spin(peer, n),
        Way::Event => echo_event(peer, n),
        Way::Pipe => echo_stream(
            &mut std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
            n,
        ),
        Way::Socket => connect(peer).and_then(|s| echo_stream(&mut &s, &mut &s, n)),
        Way::Redis => echo_redis(peer, n),
        other => bail!("no echo for the way '{}'", other.name()),
    }
    .with_context(|| format!("echo of '{}'", way.name()))
}

fn spawn_echo(way: Way, peer: &str, n: u32, piped: bool) -> Result<Helper> {
    spawn_helper("_echo", way, peer, ("--n", n), piped)
}

/// Word indices: each on a cache line of its own (8 words = 64 bytes apart).
const PING: usize = 0;
const PONG: usize = 8;
const READY: usize = 16;
const MESSAGE: usize = 24;
const REPLY: usize = 32;

// ANCHOR: spin
/// Shared memory, spinning: the message is the word itself. Each side watches a cache
/// line until the other side's write reaches it.
fn spin(n: u32) -> Result<Histogram<u64>> {
    let (name, shmem) = page_segment()?;
    let w = words(&shmem);
    let echo = spawn_echo(Way::Spin, &name, n, false)?;
    spin_until("the echo", || w[READY].load(Ordering::Acquire) == 1)?;
    let core = Pinned::to(Some(0)); // a core for each side: the echo takes the next one
    let times = timed_round_trips(n, |i| ping_pong(w, i));
    drop(core);
    echo.wait_ok(PROCESS_TIMEOUT)?;
    times
}

fn ping_pong(w: &[AtomicU64], i: u64) -> Result<()> {
    w[PING].store(i, Ordering::Release);
    spin_until("the echo", || w[PONG].load(Ordering::Acquire) == i)
}

fn echo_spin(name: &str, n: u32) -> Result<()> {
    let shmem = attach_page(name)?;
    answer(words(&shmem), n)
}

/// The echo's side, on a core of its own: ready, then every message back (one
/// untimed, `n` timed).
fn answer(w: &[AtomicU64], n: u32) -> Result<()> {
    let _core = Pinned::to(Some(1));
    w[READY].store(1, Ordering::Release);
    for i in 1..=u64::from(n) + 1 {
        spin_until("the message", || w[PING].load(Ordering::Acquire) == i)?;
        w[PONG].store(i, Ordering::Release);
    }
    Ok(())
}
// ANCHOR_END: spin

// ANCHOR: floor
/// The floor: the same words and the same two functions, between two threads of this
/// process, measured in the same run. No process boundary, no segment: only the cache
/// lines moving between the cores.
fn floor(n: u32) -> Result<Histogram<u64>> {
    let w: Vec<AtomicU64> = (0..PAGE / 8).map(|_| AtomicU64::new(0)).collect();
    std::thread::scope(|s| {
        let echo = s.spawn(|| answer(&w, n));
        spin_until("the echo thread", || w[READY].load(Ordering::Acquire) == 1)?;
        let core = Pinned::to(Some(0)); // as in `spin`: the echo thread is on the next core
        let times = timed_round_trips(n, |i| ping_pong(&w, i));
        drop(core);
        let times = times?;
        echo.join()
            .map_err(|_| anyhow::anyhow!("the echo thread panicked"))??;
        Ok(times)
    })
}
// ANCHOR_END: floor

// ANCHOR: event
/// Shared memory with a blocking wake-up: the waiting side sleeps in the kernel on a
/// raw_sync `Event` (a process-shared pthread condition variable) until it is set.
fn event(n: u32) -> Result<Histogram<u64>> {
    let (name, shmem) = page_segment()?;
    let (ping, pong) = events(&shmem, true)?;
    let w = words(&shmem);
    let echo = spawn_echo(Way::Event, &name, n, false)?;
    spin_until("the echo", || w[READY].load(Ordering::Acquire) == 1)?;
    let times = timed_round_trips(n, |i| {
        w[MESSAGE].store(i, Ordering::Relaxed); // the event's mutex orders it
        ping.set(EventState::Signaled)
            .sync_context("setting ping")?;
        pong.wait(wait_limit()).sync_context("waiting for pong")?;
        match w[REPLY].load(Ordering::Relaxed) {
            reply if reply == i => Ok(()),
            reply => bail!("sent {i}, got {reply} back"),
        }
    })?;
    echo.wait_ok(PROCESS_TIMEOUT)?;
    Ok(times)
}

fn echo_event(name: &str, n: u32) -> Result<()> {
    let shmem = attach_page(name)?;
    let (ping, pong) = events(&shmem, false)?;
    let w = words(&shmem);
    w[READY].store(1, Ordering::Release);
    for _ in 0..=n {
        ping.wait(wait_limit()).sync_context("waiting for ping")?;
        w[REPLY].store(w[MESSAGE].load(Ordering::Relaxed), Ordering::Relaxed);
        pong.set(EventState::Signaled)
            .sync_context("setting pong")?;
    }
    Ok(())
}
// ANCHOR_END: event

// ANCHOR: streams
/// A pipe each way: the helper's standard input and output.
fn pipe(n: u32) -> Result<Histogram<u64>> {
    let mut echo = spawn_echo(Way::Pipe, "-", n, true)?;
    let (Some(mut tx), Some(mut rx)) = (echo.take_stdin(), echo.take_stdout()) else {
        bail!("the echo has no pipes");
    };
    let times = {
        let _bound = echo.watchdog(PROCESS_TIMEOUT);
        timed_round_trips(n, |i| round_trip(&mut tx, &mut rx, i))?
    };
    drop(tx);
    echo.wait_ok(PROCESS_TIMEOUT)?;
    Ok(times)
}

/// A Unix socket: one connection, both directions.
fn socket(n: u32) -> Result<Histogram<u64>> {
    let (listener, path) = listen()?;
    let echo = spawn_echo(Way::Socket, &path.to_string_lossy(), n, false)?;
    let stream = accept(&listener)?;
    let times = timed_round_trips(n, |i| round_trip(&mut &stream, &mut &stream, i))?;
    echo.wait_ok(PROCESS_TIMEOUT)?;
    Ok(times)
}

fn round_trip(tx: &mut impl Write, rx: &mut impl Read, i: u64) -> Result<()> {
    tx.write_all(&i.to_le_bytes())?;
    tx.flush()?;
    let mut reply = [0u8; 8];
    rx.read_exact(&mut reply)?;
    if u64::from_le_bytes(reply) != i {
        bail!("sent {i}, got {} back", u64::from_le_bytes(reply));
    }
    Ok(())
}

fn echo_stream(rx: &mut impl Read, tx: &mut impl Write, n: u32) -> Result<()> {
    let mut message = [0u8; 8];
    for _ in 0..=n {
        rx.read_exact(&mut message)?;
        tx.write_all(&message)?;
        tx.flush()?;
    }
    Ok(())
}
// ANCHOR_END: streams

// ANCHOR: redis
/// Redis: RPUSH onto a list the other process BLPOPs, and the same way back. Each
/// message goes to the server and from there to the other process: two network hops.
fn redis(server: &redis_way::Server, n: u32) -> Result<Histogram<u64>> {
    let mut con = server.connect()?;
    let peer = format!("{}/{}", server.addr, std::process::id());
    let echo = spawn_echo(Way::Redis, &peer, n, false)?;
    let (ping, pong) = (redis_client::key("ping"), redis_client::key("pong"));
    let times = timed_round_trips(n, |i| {
        let _: () = con.rpush(&ping, &i.to_le_bytes()[..])?;
        let reply = redis_client::pop(&mut con, &pong)?;
        if reply != i.to_le_bytes() {
            bail!("sent {i}, got {reply:?} back");
        }
        Ok(())
    })?;
    echo.wait_ok(PROCESS_TIMEOUT)?;
    Ok(times)
}

fn echo_redis(peer: &str, n: u32) -> Result<()> {
    let (addr, pid) = peer.split_once('/').context("peer is ADDR/PID")?;
    let mut con = redis_client::connect(addr)?;
    let (ping, pong) = (format!("shmbook:{pid}:ping"), format!("shmbook:{pid}:pong"));
    for _ in 0..=n {
        let message = redis_client::pop(&mut con, &ping)?;
        let _: () = con.rpush(&pong, message)?;
    }
    Ok(())
}
// ANCHOR_END: redis
