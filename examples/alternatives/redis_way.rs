//! Redis, for real: a `redis-server` of this run's own on a free loopback port (or the
//! server `--redis HOST:PORT` names), and the `redis` crate's plain TCP client.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use redis::Commands;
use shmbook::alternatives::redis_client::{connect, key, pop};
use shmbook::alternatives::{spawn_consumer, two_words, Way};
use shmbook::measure::{as_bytes, checksum, minor_faults};
use shmbook::process::Child;
use shmbook::{os, wait, PROCESS_TIMEOUT};

use crate::job::{Measured, Round};

/// What a reader without Redis sees instead of a measurement.
pub const MISSING: &str = "not run: no redis-server on PATH; install it (Debian, Ubuntu: \
apt-get install redis-server; macOS: brew install redis) or pass --redis HOST:PORT";

/// The largest value a Redis server accepts by default (`proto-max-bulk-len`, 512 MB,
/// counted in MiB). A larger `RPUSH` is refused by closing the connection, which the
/// client sees as a reset; the row says so instead.
pub const MAX_BULK: usize = 512 << 20;

pub const TOO_LARGE: &str = "not run: above Redis's proto-max-bulk-len (512 MB by default)";

// ANCHOR: server
/// A Redis server to talk to: one this run started (a `shmbook::process::Child`,
/// killed when dropped, and stopped on Ctrl-C), or the one `--redis` named.
pub struct Server {
    pub addr: String,
    /// The server this run started, if it did: dropping the `Server` kills it.
    _process: Option<Child>,
}

/// Finds the server to use: `--redis ADDR`, or a `redis-server` started on a free port
/// of 127.0.0.1 for this run. `None` when neither is possible.
pub fn server(given: Option<&str>) -> Result<Option<Server>> {
    if let Some(addr) = given {
        let addr = addr.to_string();
        return Ok(Some(Server {
            addr,
            _process: None,
        }));
    }
    let Some(program) = os::find_program("redis-server") else {
        return Ok(None);
    };
    // A free port: the system picks one for a listener we close at once. Another
    // program could take it in between; then the server fails to start and we retry.
    for _ in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if let Some(server) = start(&program, port)? {
            println!("(started redis-server on 127.0.0.1 for this run; it stops with the run)");
            return Ok(Some(server));
        }
    }
    bail!("redis-server did not start on three free ports in a row")
}

// ANCHOR_END: server

// ANCHOR: start
/// Starts `redis-server` on `port`, saving nothing to disk, and waits until it answers.
/// `None` if it exited instead (most likely another program took the port meanwhile).
fn start(program: &Path, port: u16) -> Result<Option<Server>> {
    let mut cmd = Command::new(program);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Recorded for the cleanup; on Linux it also gets SIGTERM if this run dies.
    let mut child = Child::spawn(&mut cmd).context("starting redis-server")?;
    let addr = format!("127.0.0.1:{port}");
    let mut exited = false;
    wait::until("redis-server to answer", PROCESS_TIMEOUT, || {
        exited = matches!(child.try_wait(), Ok(Some(_)));
        exited || connect(&addr).is_ok()
    })?;
    let _process = Some(child);
    Ok((!exited).then_some(Server { addr, _process }))
}

impl Server {
    /// A connection whose every reply is awaited at most `PROCESS_TIMEOUT`.
    pub fn connect(&self) -> Result<redis::Connection> {
        connect(&self.addr)
    }
}
// ANCHOR_END: start

// ANCHOR: throughput
/// Redis as a queue between the two processes: the producer RPUSHes the array's bytes
/// onto a list, the consumer BLPOPs them and RPUSHes an ack onto another list.
pub fn throughput<'a>(server: &Server, data: &'a [f64], rounds: u32) -> Result<Measured<'a>> {
    let mut con = server.connect()?;
    let keys = [key("data"), key("ack"), key("sum")];
    let peer = format!("{}/{}", server.addr, std::process::id());
    let consumer = spawn_consumer(Way::Redis, &peer, rounds, false)?;
    let expected = checksum(data);
    let mut measured = Measured::new(data);
    for _ in 0..rounds {
        measured.round(|| {
            let (before, start) = (minor_faults(), Instant::now());
            let _: () = con.rpush(&keys[0], as_bytes(data))?;
            pop(&mut con, &keys[1])?;
            let (time, mine) = (start.elapsed(), minor_faults() - before);
            let report = pop(&mut con, &keys[2])?;
            let [sum, theirs] = two_words(&report)?;
            let (matched, faults) = (sum == expected, Some(mine + theirs));
            Ok(Round::new(time, matched, faults))
        })?;
    }
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    let _: () = con.del(&keys)?;
    Ok(measured)
}
// ANCHOR_END: throughput

// ANCHOR: consume
pub fn consume(peer: &str, rounds: u32) -> Result<()> {
    let (addr, pid) = peer.split_once('/').context("peer is ADDR/PID")?;
    let mut con = connect(addr)?;
    let key = |name: &str| format!("shmbook:{pid}:{name}");
    for _ in 0..rounds {
        let before = minor_faults();
        let received = pop(&mut con, &key("data"))?;
        let _: () = con.rpush(key("ack"), 1)?;
        let faults = minor_faults() - before;
        ensure!(
            received.len() % 8 == 0,
            "{} bytes: not f64s",
            received.len()
        );
        // The bytes arrived in a Vec<u8>, which need not be aligned for f64: decode.
        let values: Vec<f64> = received
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect();
        let report = [checksum(&values).to_le_bytes(), faults.to_le_bytes()].concat();
        let _: () = con.rpush(key("sum"), report)?;
    }
    Ok(())
}
// ANCHOR_END: consume
