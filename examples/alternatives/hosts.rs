//! Across hosts, for real: a process in a second network namespace, joined to this one
//! by a veth pair, receives the array over TCP and through a Redis server of its own —
//! so the bytes cross a network device and two network stacks, not the loopback.
//!
//! The namespace is the helper's own (`unshare(CLONE_NEWNET)`), not a named one: it
//! lives exactly as long as the helper and the Redis server it started, and when they
//! end, however they end, the kernel removes the namespace and the veth pair with it.
//! Nothing is left to clean up, also after Ctrl-C or `kill -9`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use redis::Commands;
use shmbook::alternatives::redis_client::{connect, pop};
use shmbook::helper::Helper;
use shmbook::measure::{checksum, make_array, rate_text, size_text};
use shmbook::process::{run as run_command, Child, Output};
use shmbook::record::{Row, Spread, Throughput};
use shmbook::{os, wait, PROCESS_TIMEOUT};

/// The TCP port the helper listens on, and Redis's, inside the namespace.
const STREAM_PORT: u16 = 7000;
const REDIS_PORT: u16 = 6379;

// ANCHOR: namespace
/// The helper (Linux only): moves itself into a new network namespace, waits for its end of the
/// veth pair, sets it up, starts Redis there and serves the array until told to stop.
#[cfg(target_os = "linux")]
pub fn remote(size: usize) -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .context("unshare(CLONE_NEWNET): a network namespace needs root")?;
    println!("unshared");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?; // "IFNAME ADDRESS": our end is here
    let [ifname, addr] = line.split_whitespace().collect::<Vec<_>>()[..] else {
        bail!("expected 'IFNAME ADDRESS' from the producer, got {line:?}");
    };
    ip(&["link", "set", "lo", "up"])?;
    ip(&["addr", "add", &format!("{addr}/30"), "dev", ifname])?;
    ip(&["link", "set", ifname, "up"])?;
    let redis = start_redis(addr)?; // inherits the namespace; stops when dropped
    let listener = TcpListener::bind((addr, STREAM_PORT)).context("listening")?;
    println!(
        "ready {}",
        if redis.is_some() { "redis" } else { "no-redis" }
    );
    serve(&listener, size)?;
    if redis.is_some() {
        consume_redis(&format!("{addr}:{REDIS_PORT}"))?;
    }
    Ok(())
}
// ANCHOR_END: namespace

#[cfg(not(target_os = "linux"))]
pub fn remote(_size: usize) -> Result<()> {
    bail!("network namespaces are not supported on this system (Linux only)")
}

/// Runs `ip ARGS` (iproute2), bounded; fails with what it printed.
fn ip(args: &[&str]) -> Result<()> {
    let ran = run_command(
        Command::new("ip").args(args),
        Output::Merged,
        None,
        PROCESS_TIMEOUT,
    )?;
    let text = String::from_utf8_lossy(&ran.stdout);
    ensure!(
        ran.status.is_some_and(|s| s.success()),
        "ip {}: {}",
        args.join(" "),
        text.trim()
    );
    Ok(())
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn start_redis(addr: &str) -> Result<Option<Child>> {
    let Some(program) = os::find_program("redis-server") else {
        return Ok(None);
    };
    let mut cmd = Command::new(program);
    cmd.args(["--bind", addr, "--port", &REDIS_PORT.to_string()])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = Child::spawn(&mut cmd).context("starting redis-server")?;
    let server = format!("{addr}:{REDIS_PORT}");
    wait::until("redis-server to answer", PROCESS_TIMEOUT, || {
        connect(&server).is_ok()
    })?;
    Ok(Some(child))
}

// ANCHOR: serve
/// The consumer's end of the stream: per round the array's bytes, then "have it" (one
/// byte, the producer's clock stops), then the checksum outside the clock. A size of 0
/// ends it.
fn serve(listener: &TcpListener, size: usize) -> Result<()> {
    listener.set_nonblocking(true)?;
    let (mut stream, _) = wait::retry(PROCESS_TIMEOUT, || listener.accept())?;
    bound(&stream)?;
    let mut array = vec![0f64; size / 8];
    loop {
        let mut word = [0u8; 8];
        stream.read_exact(&mut word)?;
        if u64::from_le_bytes(word) == 0 {
            return Ok(());
        }
        stream.read_exact(shmbook::measure::as_bytes_mut(&mut array))?;
        stream.write_all(&[1])?;
        stream.write_all(&checksum(&array).to_le_bytes())?;
    }
}
// ANCHOR_END: serve

fn bound(stream: &TcpStream) -> Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(PROCESS_TIMEOUT))?;
    stream.set_write_timeout(Some(PROCESS_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(())
}

/// The consumer's end of Redis: pops the array, pushes "have it", then the checksum.
/// An empty array ends it.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn consume_redis(server: &str) -> Result<()> {
    let mut con = connect(server)?;
    loop {
        let bytes = pop(&mut con, "shmbook:hosts:array")?;
        if bytes.is_empty() {
            return Ok(());
        }
        let _: () = con.rpush("shmbook:hosts:ack", 1u8)?;
        let array: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let _: () = con.rpush("shmbook:hosts:ack", checksum(&array).to_le_bytes().to_vec())?;
    }
}

/// What a reader without root (or without iproute2) sees instead of a measurement.
fn missing() -> Option<&'static str> {
    if cfg!(not(target_os = "linux")) {
        return Some("not run: network namespaces are not supported on this system (Linux only)");
    }
    if !nix::unistd::geteuid().is_root() {
        return Some(
            "not run: a network namespace and a veth pair need root; \
             run it as root (sudo -E cargo run -q --example alternatives -- hosts)",
        );
    }
    os::find_program("ip").is_none().then_some(
        "not run: no `ip` on PATH; install iproute2 (Debian, Ubuntu: apt-get install iproute2)",
    )
}

/// `hosts`: the array over TCP on the loopback, over TCP across the veth pair, and
/// through Redis across it, each round against a memcpy in the same round. Returns the
/// rows (`None`: not run, and why was printed).
pub fn run(size: usize, rounds: u32) -> Result<Option<Throughput>> {
    println!(
        "moving {} to a process in another network namespace (a veth pair), \
         {rounds} rounds, each against a memcpy in the same round",
        size_text(size)
    );
    if let Some(why) = missing() {
        println!("{why}");
        return Ok(None);
    }
    let (helper, mut to_helper, from_helper) = start_remote(size)?;
    let mut lines = BufReader::new(from_helper).lines();
    let mut next = || -> Result<String> {
        lines
            .next()
            .context("the helper ended early")?
            .context("reading from the helper")
    };
    ensure!(
        next()? == "unshared",
        "the helper did not make its namespace"
    );
    let theirs = veth(helper.id())?;
    writeln!(to_helper, "{} {}", theirs.0, theirs.1)?;
    let has_redis = match next()?.as_str() {
        "ready redis" => true,
        "ready no-redis" => false,
        other => bail!("the helper said {other:?}"),
    };
    let array = make_array(size / 8);
    let expected = checksum(&array);
    let loopback = loopback_server(size)?;
    let mut ways = vec![
        Stream::new(
            "tcp_loopback",
            "TCP over the loopback",
            &format!("127.0.0.1:{}", loopback.1),
        )?,
        Stream::new(
            "tcp_veth",
            "TCP across the veth pair",
            &format!("{}:{STREAM_PORT}", theirs.1),
        )?,
    ];
    let mut rows = Vec::new();
    for way in &mut ways {
        let times = way.rounds(&array, expected, rounds)?;
        rows.push(row(way.way, way.label, size, &times));
        way.end()?;
    }
    loopback
        .0
        .join()
        .map_err(|_| anyhow::anyhow!("the loopback server panicked"))??;
    if has_redis {
        let times = redis_rounds(
            &format!("{}:{REDIS_PORT}", theirs.1),
            &array,
            expected,
            rounds,
        )?;
        rows.push(row(
            "redis_veth",
            "Redis across the veth pair",
            size,
            &times,
        ));
    } else {
        println!("Redis across the veth pair: {}", crate::redis_way::MISSING);
    }
    helper.wait_ok(PROCESS_TIMEOUT)?;
    Ok(Some(Throughput {
        sizes: vec![size],
        rows,
    }))
}

fn start_remote(size: usize) -> Result<(Helper, ChildStdin, std::process::ChildStdout)> {
    let mut helper = Helper::spawn_piped("_remote", &[&size.to_string()])?;
    let to = helper.take_stdin().context("the helper's standard input")?;
    let from = helper
        .take_stdout()
        .context("the helper's standard output")?;
    Ok((helper, to, from))
}

// ANCHOR: veth
/// Makes the veth pair: one end here, the other in the helper's namespace (`netns
/// PID`). Returns the helper's end: its name and address. It lives as long as the
/// namespace does.
fn veth(pid: u32) -> Result<(String, String)> {
    let (a, b) = (format!("shmb{pid}a"), format!("shmb{pid}b"));
    // A /30 of 10.200.0.0/13 picked by the process id, so that two runs do not meet.
    let net = 4 * (pid % (1 << 17));
    let addr = |host: u32| {
        let v = (10 << 24) | (200 << 16) | (net + host);
        format!(
            "{}.{}.{}.{}",
            v >> 24,
            (v >> 16) & 255,
            (v >> 8) & 255,
            v & 255
        )
    };
    let (ours, theirs) = (addr(1), addr(2));
    ip(&[
        "link",
        "add",
        &a,
        "type",
        "veth",
        "peer",
        "name",
        &b,
        "netns",
        &pid.to_string(),
    ])?;
    ip(&["addr", "add", &format!("{ours}/30"), "dev", &a])?;
    ip(&["link", "set", &a, "up"])?;
    Ok((b, theirs))
}
// ANCHOR_END: veth

/// The same consumer as the helper's, in a thread of this process, on 127.0.0.1.
type Server = (std::thread::JoinHandle<Result<()>>, u16);

fn loopback_server(size: usize) -> Result<Server> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    Ok((std::thread::spawn(move || serve(&listener, size)), port))
}

/// A producer's connection and its rounds.
struct Stream {
    way: &'static str,
    label: &'static str,
    stream: TcpStream,
}

impl Stream {
    fn new(way: &'static str, label: &'static str, addr: &str) -> Result<Stream> {
        let stream = wait::retry(PROCESS_TIMEOUT, || TcpStream::connect(addr))
            .with_context(|| format!("connecting to {addr}"))?;
        bound(&stream)?;
        Ok(Stream { way, label, stream })
    }

    fn rounds(&mut self, array: &[f64], expected: u64, rounds: u32) -> Result<Vec<Rounds>> {
        let bytes = shmbook::measure::as_bytes(array);
        timed_rounds(array, rounds, || {
            let start = Instant::now();
            self.stream.write_all(&(bytes.len() as u64).to_le_bytes())?;
            self.stream.write_all(bytes)?;
            let mut have = [0u8; 1];
            self.stream.read_exact(&mut have)?;
            let took = start.elapsed();
            let mut sum = [0u8; 8];
            self.stream.read_exact(&mut sum)?;
            Ok((took, u64::from_le_bytes(sum) == expected))
        })
    }

    fn end(&mut self) -> Result<()> {
        Ok(self.stream.write_all(&0u64.to_le_bytes())?)
    }
}

fn redis_rounds(server: &str, array: &[f64], expected: u64, rounds: u32) -> Result<Vec<Rounds>> {
    let mut con = connect(server)?;
    let bytes = shmbook::measure::as_bytes(array);
    let times = timed_rounds(array, rounds, || {
        let start = Instant::now();
        let _: () = con.rpush("shmbook:hosts:array", bytes)?;
        pop(&mut con, "shmbook:hosts:ack")?;
        let took = start.elapsed();
        let sum = pop(&mut con, "shmbook:hosts:ack")?;
        Ok((took, sum == expected.to_le_bytes()))
    })?;
    let _: () = con.rpush("shmbook:hosts:array", Vec::<u8>::new())?;
    Ok(times)
}

/// One round: the way's time, a memcpy of the same array just before it, and whether
/// the checksum matched.
struct Rounds {
    way: Duration,
    memcpy: Duration,
    matched: bool,
}

fn timed_rounds(
    array: &[f64],
    rounds: u32,
    mut way: impl FnMut() -> Result<(Duration, bool)>,
) -> Result<Vec<Rounds>> {
    let mut target = vec![1f64; array.len()]; // touched: the copy goes to mapped pages
    let mut out = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        target.copy_from_slice(array);
        let memcpy = start.elapsed();
        std::hint::black_box(&target);
        let (took, matched) = way()?;
        out.push(Rounds {
            way: took,
            memcpy,
            matched,
        });
    }
    Ok(out)
}

/// Prints "TCP across the veth pair   match   1.23 GB/s  0.12 × memcpy (0.10–0.13)"
/// and returns the same figures as a row of the recorded format.
fn row(way: &str, label: &str, size: usize, rounds: &[Rounds]) -> Row {
    let times: Vec<Duration> = rounds.iter().map(|r| r.way).collect();
    let memcpy: Vec<Duration> = rounds.iter().map(|r| r.memcpy).collect();
    let mut row = Row::new(way, label, size, &times, &memcpy);
    row.matched = rounds.iter().all(|r| r.matched);
    let best = times.iter().copied().min().unwrap_or_default();
    let r = |f: fn(&Spread) -> f64| row.ratio.as_ref().map_or(f64::NAN, f);
    println!(
        "{label:<28} {}  {}  {:.2} × memcpy ({:.2}–{:.2})",
        shmbook::measure::match_text(row.matched),
        rate_text(size, best),
        r(|s| s.median),
        r(|s| s.min),
        r(|s| s.max),
    );
    row
}
