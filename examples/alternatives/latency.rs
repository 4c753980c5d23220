//! Small messages: an 8-byte message to a helper process and back, `n` times, every
//! way. The mean round trip shows the two floors: a cache line moving between cores,
//! and a sleep and wake-up through the kernel.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use raw_sync::events::{Event, EventImpl, EventInit, EventState};
use raw_sync::Timeout;
use redis::Commands;
use shared_memory::{Shmem, ShmemConf};
use shmbook::cleanup::Tracked;
use shmbook::helper::Helper;
use shmbook::measure::duration_text;
use shmbook::sync::SyncContext;
use shmbook::{cleanup, names, os, PROCESS_TIMEOUT};

use crate::job::{not_run, spin_until, Way, LATENCY};
use crate::{redis_way, streams};

pub fn run(n: u32, ways: &[Way], given: Option<&str>) -> Result<()> {
    println!("an 8-byte message to another process and back; mean of {n} round trips");
    shmbook::measure::warn_if_debug(n > 200);
    for &way in if ways.is_empty() { LATENCY } else { ways } {
        let mean = match way {
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
        println!("{:<24} {}", way.label(), duration_text(mean));
    }
    Ok(())
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
        Way::Socket => streams::connect(peer).and_then(|s| echo_stream(&mut &s, &mut &s, n)),
        Way::Redis => echo_redis(peer, n),
        other => bail!("no echo for the way '{}'", other.name()),
    }
    .with_context(|| format!("echo of '{}'", way.name()))
}

fn spawn_echo(way: Way, peer: &str, n: u32, piped: bool) -> Result<Helper> {
    crate::job::spawn_helper("_echo", way, peer, ("--n", n), piped)
}

/// Runs `round_trip` `n` times and returns the mean.
fn mean_of(n: u32, mut round_trip: impl FnMut(u64) -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    for i in 1..=u64::from(n) {
        round_trip(i)?;
    }
    Ok(start.elapsed() / n)
}

/// A latency way's segment: one page, its words seen as atomics.
const PAGE: usize = 4096;

/// A segment for one latency way, with its words seen as atomics.
fn words(shmem: &Shmem) -> &[AtomicU64] {
    assert!(shmem.len() >= PAGE, "checked by `segment` and `attach`");
    // SAFETY: the mapping starts on a page boundary (aligned for u64) and holds at
    // least PAGE / 8 whole words (asserted); atomics are valid for any bits and may be
    // shared between processes; the borrow cannot outlive `shmem`.
    unsafe { std::slice::from_raw_parts(shmem.as_ptr().cast::<AtomicU64>(), PAGE / 8) }
}

/// A new one-page segment for one latency way, and its name for the echo. Its last
/// word says that this example made it.
fn segment() -> Result<(String, Tracked<Shmem>)> {
    let name = names::unique("alt");
    let shmem = cleanup::segment(&name, || ShmemConf::new().size(PAGE).os_id(&name).create())
        .map_err(os::explain)
        .with_context(|| format!("creating {name}"))?;
    ensure!(shmem.len() >= PAGE, "{name} is smaller than asked for");
    words(&shmem)[MAGIC_AT].store(MAGIC, Ordering::Release);
    Ok((name, shmem))
}

/// The echo's side: opens the segment and checks that it is one [`segment`] made,
/// before anything in it is used (the events in it, above all).
fn attach(name: &str) -> Result<Shmem> {
    let shmem = crate::mapped::open(name)?;
    ensure!(
        shmem.len() >= PAGE,
        "{name} has {} bytes, not the {PAGE} this example makes",
        shmem.len()
    );
    ensure!(
        words(&shmem)[MAGIC_AT].load(Ordering::Acquire) == MAGIC,
        "{name} was not made by this example"
    );
    Ok(shmem)
}

/// The last word of the page, and what [`segment`] writes there: "shmbklat".
const MAGIC_AT: usize = PAGE / 8 - 1;
const MAGIC: u64 = u64::from_le_bytes(*b"shmbklat");

/// Word indices: each on a cache line of its own (8 words = 64 bytes apart).
const PING: usize = 0;
const PONG: usize = 8;
const READY: usize = 16;
const MESSAGE: usize = 24;
const REPLY: usize = 32;

// ANCHOR: spin
/// Shared memory, spinning: the message is the word itself. Each side watches a cache
/// line until the other side's write reaches it.
fn spin(n: u32) -> Result<Duration> {
    let (name, shmem) = segment()?;
    let w = words(&shmem);
    let echo = spawn_echo(Way::Spin, &name, n, false)?;
    spin_until("the echo", || w[READY].load(Ordering::Acquire) == 1)?;
    let mean = mean_of(n, |i| {
        w[PING].store(i, Ordering::Release);
        spin_until("the echo", || w[PONG].load(Ordering::Acquire) == i)
    })?;
    echo.wait_ok(PROCESS_TIMEOUT)?;
    Ok(mean)
}

fn echo_spin(name: &str, n: u32) -> Result<()> {
    let shmem = attach(name)?;
    let w = words(&shmem);
    w[READY].store(1, Ordering::Release);
    for i in 1..=u64::from(n) {
        spin_until("the message", || w[PING].load(Ordering::Acquire) == i)?;
        w[PONG].store(i, Ordering::Release);
    }
    Ok(())
}
// ANCHOR_END: spin

// ANCHOR: event
/// Shared memory with a blocking wake-up: the waiting side sleeps in the kernel on a
/// raw_sync `Event` (a process-shared pthread condition variable) until it is set.
fn event(n: u32) -> Result<Duration> {
    let (name, shmem) = segment()?;
    let (ping, pong) = events(&shmem, true)?;
    let w = words(&shmem);
    let echo = spawn_echo(Way::Event, &name, n, false)?;
    let mean = mean_of(n, |i| {
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
    Ok(mean)
}

fn echo_event(name: &str, n: u32) -> Result<()> {
    let shmem = attach(name)?;
    let (ping, pong) = events(&shmem, false)?;
    let w = words(&shmem);
    for _ in 0..n {
        ping.wait(wait_limit()).sync_context("waiting for ping")?;
        w[REPLY].store(w[MESSAGE].load(Ordering::Relaxed), Ordering::Relaxed);
        pong.set(EventState::Signaled)
            .sync_context("setting pong")?;
    }
    Ok(())
}
// ANCHOR_END: event

/// Two auto-reset events, at bytes 1024 and 2048 of the segment: made there by the
/// creator, found there by the other process.
fn events(shmem: &Shmem, create: bool) -> Result<(Box<dyn EventImpl>, Box<dyn EventImpl>)> {
    let make = |offset: usize| {
        // SAFETY: offset + Event's size (a pthread mutex and condition variable, well
        // under 1 KiB) lies inside the segment's first page, which it holds (`segment`
        // and `attach`, the only ways to one, check that) and which outlives the event;
        // `new` runs before the other process starts, `from_existing` in that process
        // only after `new` finished.
        unsafe {
            let at = shmem.as_ptr().add(offset);
            if create {
                Event::new(at, true)
            } else {
                Event::from_existing(at)
            }
        }
        .map(|(event, _)| event)
        .sync_context("setting up an event")
    };
    Ok((make(1024)?, make(2048)?))
}

/// raw_sync adds a timeout's nanoseconds to the clock's without carrying into the
/// seconds, so only whole seconds are safe as a limit (see the Semaphores chapter).
fn wait_limit() -> Timeout {
    Timeout::Val(Duration::from_secs(PROCESS_TIMEOUT.as_secs()))
}

// ANCHOR: streams
/// A pipe each way: the helper's standard input and output.
fn pipe(n: u32) -> Result<Duration> {
    let mut echo = spawn_echo(Way::Pipe, "-", n, true)?;
    let (Some(mut tx), Some(mut rx)) = (echo.take_stdin(), echo.take_stdout()) else {
        bail!("the echo has no pipes");
    };
    let mean = {
        let _bound = echo.watchdog(PROCESS_TIMEOUT);
        mean_of(n, |i| round_trip(&mut tx, &mut rx, i))?
    };
    drop(tx);
    echo.wait_ok(PROCESS_TIMEOUT)?;
    Ok(mean)
}

/// A Unix socket: one connection, both directions.
fn socket(n: u32) -> Result<Duration> {
    let (listener, path) = streams::listen()?;
    let echo = spawn_echo(Way::Socket, &path.to_string_lossy(), n, false)?;
    let stream = streams::accept(&listener)?;
    let mean = mean_of(n, |i| round_trip(&mut &stream, &mut &stream, i))?;
    echo.wait_ok(PROCESS_TIMEOUT)?;
    Ok(mean)
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
    for _ in 0..n {
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
fn redis(server: &redis_way::Server, n: u32) -> Result<Duration> {
    let mut con = server.connect()?;
    let peer = format!("{}/{}", server.addr, std::process::id());
    let echo = spawn_echo(Way::Redis, &peer, n, false)?;
    let (ping, pong) = (redis_way::key("ping"), redis_way::key("pong"));
    let mean = mean_of(n, |i| {
        let _: () = con.rpush(&ping, &i.to_le_bytes()[..])?;
        let reply = redis_way::pop(&mut con, &pong)?;
        if reply != i.to_le_bytes() {
            bail!("sent {i}, got {reply:?} back");
        }
        Ok(())
    })?;
    echo.wait_ok(PROCESS_TIMEOUT)?;
    Ok(mean)
}

fn echo_redis(peer: &str, n: u32) -> Result<()> {
    let (addr, pid) = peer.split_once('/').context("peer is ADDR/PID")?;
    let mut con = redis_way::connect(addr)?;
    let (ping, pong) = (format!("shmbook:{pid}:ping"), format!("shmbook:{pid}:pong"));
    for _ in 0..n {
        let message = redis_way::pop(&mut con, &ping)?;
        let _: () = con.rpush(&pong, message)?;
    }
    Ok(())
}
// ANCHOR_END: redis
