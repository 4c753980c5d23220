//! The ways that copy through the kernel — a pipe and a Unix socket, with raw bytes or
//! with serialized messages (postcard) — and threads, which copy nothing.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use shmbook::cleanup::Tracked;
use shmbook::measure::{as_bytes, as_bytes_mut, checksum, minor_faults};
use shmbook::{wait, PROCESS_TIMEOUT};

use crate::job::{spawn_consumer, Measured, Way, MAX_SIZE};

// ANCHOR: threads
/// Threads in one process: the consumer thread gets the producer's `Vec` by move.
/// Only its pointer, length and capacity travel; the array stays where it is.
/// Returns the fastest hand-off and whether every checksum matched.
pub fn threads(data: &[f64], rounds: u32) -> Result<(Duration, bool)> {
    let expected = checksum(data);
    let (to_consumer, inbox) = mpsc::sync_channel::<Vec<f64>>(1);
    let (to_producer, replies) = mpsc::sync_channel::<(Vec<f64>, Instant, u64)>(1);
    let mut array = data.to_vec();
    std::thread::scope(|s| {
        s.spawn(move || {
            for values in inbox {
                let received = Instant::now();
                let sum = checksum(&values);
                if to_producer.send((values, received, sum)).is_err() {
                    break;
                }
            }
        });
        let (mut best, mut matched) = (Duration::MAX, true);
        for _ in 0..rounds {
            let sent = Instant::now();
            to_consumer.send(array).context("consumer gone")?;
            let answer = replies.recv_timeout(PROCESS_TIMEOUT);
            let (back, received, sum) = answer.context("no answer")?;
            best = best.min(received - sent);
            matched &= sum == expected;
            array = back; // the same Vec comes back for the next round
        }
        drop(to_consumer); // ends the consumer's loop; the scope joins it
        Ok((best, matched))
    })
}
// ANCHOR_END: threads

// ANCHOR: stream
/// The producer's side of a round through a byte stream: write the array, read the
/// consumer's one-byte ack (the clock stops here), then its checksum and page faults.
fn produce(
    tx: &mut impl Write,
    rx: &mut impl Read,
    data: &[f64],
    rounds: u32,
    serialize: bool,
) -> Result<Measured> {
    let expected = checksum(data);
    send_size(tx, std::mem::size_of_val(data))?; // once, off the clock
    let mut measured = Measured::new();
    for round in 1..=rounds {
        let (before, start) = (minor_faults(), Instant::now());
        if serialize {
            send_message(tx, round, data)?;
        } else {
            tx.write_all(as_bytes(data))?;
        }
        tx.flush()?;
        rx.read_exact(&mut [0u8; 1]).context("reading the ack")?;
        let (time, mine) = (start.elapsed(), minor_faults() - before);
        let mut report = [0u8; 16];
        rx.read_exact(&mut report).context("reading the checksum")?;
        let [sum, theirs] = crate::job::two_words(&report)?;
        measured.round(time, sum == expected, mine + theirs);
    }
    Ok(measured)
}
// ANCHOR_END: stream

// ANCHOR: stream_consumer
/// The consumer's side: read the whole array into its own buffer (the kernel copies
/// it there), ack, then checksum it.
fn consume(rx: &mut impl Read, tx: &mut impl Write, rounds: u32, serialized: bool) -> Result<()> {
    let bytes = receive_size(rx)?;
    let mut buffer = vec![1.0f64; bytes / 8]; // written once: already mapped
    let mut message = Vec::new();
    for round in 1..=rounds {
        let before = minor_faults();
        let received = if serialized {
            Some(receive_message(rx, &mut message, round, bytes)?)
        } else {
            rx.read_exact(as_bytes_mut(&mut buffer))?;
            None
        };
        tx.write_all(&[1])?;
        tx.flush()?;
        let faults = minor_faults() - before;
        let sum = checksum(received.as_deref().unwrap_or(&buffer));
        tx.write_all(&[sum.to_le_bytes(), faults.to_le_bytes()].concat())?;
        tx.flush()?;
    }
    Ok(())
}
// ANCHOR_END: stream_consumer

/// The array's size, sent once before the rounds: the consumer sizes its buffer by it.
fn send_size(tx: &mut impl Write, bytes: usize) -> Result<()> {
    Ok(tx.write_all(&(bytes as u64).to_le_bytes())?)
}

/// The size [`send_size`] sent, checked: a whole number of f64, at most `MAX_SIZE`.
fn receive_size(rx: &mut impl Read) -> Result<usize> {
    let mut word = [0u8; 8];
    rx.read_exact(&mut word)
        .context("reading the array's size")?;
    let bytes = u64::from_le_bytes(word);
    ensure!(
        bytes.is_multiple_of(8) && bytes <= MAX_SIZE as u64,
        "the producer announced {bytes} bytes, not an array this example sends"
    );
    Ok(bytes as usize)
}

// ANCHOR: postcard
/// What the producer sends: it borrows the array...
#[derive(Serialize)]
struct Outgoing<'a> {
    round: u32,
    values: &'a [f64],
}

/// ...and what the consumer gets: the same fields, in a `Vec` of its own.
#[derive(Deserialize)]
struct Incoming {
    round: u32,
    values: Vec<f64>,
}

/// Serializes the array with postcard (Rust's pickle, for this job) and sends it with
/// its length in front, as `multiprocessing` does with a pickle.
fn send_message(tx: &mut impl Write, round: u32, values: &[f64]) -> Result<()> {
    let message = postcard::to_stdvec(&Outgoing { round, values })?;
    tx.write_all(&(message.len() as u64).to_le_bytes())?;
    tx.write_all(&message)?;
    Ok(())
}
// ANCHOR_END: postcard

// ANCHOR: postcard_receive
/// Reads one message and decodes it into a new `Vec<f64>`; the length in front must
/// fit an array of `bytes` (and its round number).
fn receive_message(
    rx: &mut impl Read,
    buffer: &mut Vec<u8>,
    round: u32,
    bytes: usize,
) -> Result<Vec<f64>> {
    let mut length = [0u8; 8];
    rx.read_exact(&mut length)?;
    let length = u64::from_le_bytes(length);
    // The values, their count and the round: a few bytes more than the array.
    ensure!(length <= bytes as u64 + 32, "a message of {length} bytes");
    buffer.resize(length as usize, 0);
    rx.read_exact(buffer)?;
    let incoming: Incoming = postcard::from_bytes(buffer).context("decoding the message")?;
    if incoming.round != round {
        bail!("expected round {round}, got round {}", incoming.round);
    }
    Ok(incoming.values)
}
// ANCHOR_END: postcard_receive

// ANCHOR: pipe
/// A pipe: the consumer is a helper whose standard input and output are pipes.
pub fn pipe(data: &[f64], rounds: u32) -> Result<Measured> {
    pipe_with(data, rounds, None)
}

// ANCHOR_END: pipe

// ANCHOR: bigpipe
/// The same pipe, enlarged from 64 KiB to 1 MiB (Linux's `F_SETPIPE_SZ`, up to
/// `/proc/sys/fs/pipe-max-size`): 16 times fewer sleeps and wake-ups. `None` elsewhere.
pub fn big_pipe(data: &[f64], rounds: u32) -> Result<Option<Measured>> {
    if cfg!(target_os = "linux") {
        pipe_with(data, rounds, Some(1 << 20)).map(Some)
    } else {
        Ok(None)
    }
}

fn pipe_with(data: &[f64], rounds: u32, capacity: Option<i32>) -> Result<Measured> {
    let mut consumer = spawn_consumer(Way::Pipe, "-", rounds, true)?;
    let (Some(mut tx), Some(mut rx)) = (consumer.take_stdin(), consumer.take_stdout()) else {
        bail!("the consumer has no pipes");
    };
    #[cfg(target_os = "linux")]
    if let Some(capacity) = capacity {
        use nix::fcntl::{fcntl, FcntlArg::F_SETPIPE_SZ};
        fcntl(&tx, F_SETPIPE_SZ(capacity)).context("enlarging the pipe")?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = capacity;
    let measured = {
        let _bound = consumer.watchdog(PROCESS_TIMEOUT); // pipes have no timeouts
        produce(&mut tx, &mut rx, data, rounds, false)?
    };
    drop(tx); // end-of-file for the consumer
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(measured)
}
// ANCHOR_END: bigpipe

// ANCHOR: pipe_consumer
pub fn consume_pipe(rounds: u32) -> Result<()> {
    let (mut rx, mut tx) = (std::io::stdin().lock(), std::io::stdout().lock());
    consume(&mut rx, &mut tx, rounds, false)
}
// ANCHOR_END: pipe_consumer

// ANCHOR: socket
/// A Unix domain socket: a path in the file system that the consumer connects to.
pub fn socket(data: &[f64], rounds: u32, serialize: bool) -> Result<Measured> {
    let (listener, path) = listen()?;
    let way = if serialize {
        Way::Postcard
    } else {
        Way::Socket
    };
    let consumer = spawn_consumer(way, &path.to_string_lossy(), rounds, false)?;
    let stream = accept(&listener)?;
    let measured = produce(&mut &stream, &mut &stream, data, rounds, serialize)?;
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(measured)
}

pub fn consume_socket(path: &str, rounds: u32, serialized: bool) -> Result<()> {
    let stream = connect(path)?;
    consume(&mut &stream, &mut &stream, rounds, serialized)
}
// ANCHOR_END: socket

/// A listening socket at a new path in the temporary directory, removed with the
/// returned guard (and on Ctrl-C).
pub fn listen() -> Result<(Tracked<UnixListener>, PathBuf)> {
    let (listener, path) = crate::job::temp_file("sock", |p| UnixListener::bind(p))?;
    listener.set_nonblocking(true)?; // so that accept can give up
    Ok((listener, path))
}

/// Accepts one connection, waiting at most `PROCESS_TIMEOUT`; every read and write on
/// it is bounded the same way.
pub fn accept(listener: &UnixListener) -> Result<UnixStream> {
    let (stream, _) = wait::retry(PROCESS_TIMEOUT, || listener.accept())
        .context("waiting for the other process to connect")?;
    bound(stream)
}

pub fn connect(path: &str) -> Result<UnixStream> {
    let stream = UnixStream::connect(path).with_context(|| format!("connecting to {path}"))?;
    bound(stream)
}

fn bound(stream: UnixStream) -> Result<UnixStream> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(PROCESS_TIMEOUT))?;
    stream.set_write_timeout(Some(PROCESS_TIMEOUT))?;
    Ok(stream)
}
