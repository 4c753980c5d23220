//! The ways that copy through the kernel — a pipe and a Unix socket, with raw bytes or
//! with serialized messages (postcard) — and threads, which copy nothing.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use shmbook::alternatives::{
    accept, connect, listen, receive_size, send_size, spawn_consumer, two_words, Way,
};
use shmbook::measure::{as_bytes, as_bytes_mut, checksum, minor_faults};
use shmbook::PROCESS_TIMEOUT;

use crate::job::{Measured, Round};

// ANCHOR: threads
/// Threads in one process: the consumer thread gets the producer's `Vec` by move.
/// Only its pointer, length and capacity travel; the array stays where it is. The
/// round's time is the hand-off: from `send` until the consumer thread has the `Vec`.
pub fn threads(data: &[f64], rounds: u32) -> Result<Measured<'_>> {
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
        let mut measured = Measured::new(data);
        for _ in 0..rounds {
            measured.round(|| {
                let sent = Instant::now();
                to_consumer
                    .send(std::mem::take(&mut array))
                    .context("consumer gone")?;
                let answer = replies.recv_timeout(PROCESS_TIMEOUT);
                let (back, received, sum) = answer.context("no answer")?;
                array = back; // the same Vec comes back for the next round
                let (time, matched) = (received - sent, sum == expected);
                Ok(Round::new(time, matched, None))
            })?;
        }
        drop(to_consumer); // ends the consumer's loop; the scope joins it
        Ok(measured)
    })
}
// ANCHOR_END: threads

/// How a stream way puts the array into bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The array's own bytes, written straight from it.
    Raw,
    /// One cast and one copy into a message (the counterpart of pickle protocol 5).
    Bytemuck,
    /// Every value encoded and decoded by serde (postcard).
    Postcard,
}

// ANCHOR: stream
/// The producer's side of a round through a byte stream: write the array, read the
/// consumer's one-byte ack (the clock stops here), then its checksum and page faults.
fn produce<'a>(
    tx: &mut impl Write,
    rx: &mut impl Read,
    data: &'a [f64],
    rounds: u32,
    format: Format,
) -> Result<Measured<'a>> {
    let expected = checksum(data);
    send_size(tx, std::mem::size_of_val(data))?; // once, off the clock
    let mut measured = Measured::new(data);
    for round in 1..=rounds {
        measured.round(|| {
            let (before, start) = (minor_faults(), Instant::now());
            match format {
                Format::Raw => tx.write_all(as_bytes(data))?,
                Format::Bytemuck => send_cast(tx, round, data)?,
                Format::Postcard => send_message(tx, round, data)?,
            }
            tx.flush()?;
            rx.read_exact(&mut [0u8; 1]).context("reading the ack")?;
            let (time, mine) = (start.elapsed(), minor_faults() - before);
            let mut report = [0u8; 16];
            rx.read_exact(&mut report).context("reading the checksum")?;
            let [sum, theirs] = two_words(&report)?;
            let (matched, faults) = (sum == expected, Some(mine + theirs));
            Ok(Round::new(time, matched, faults))
        })?;
    }
    Ok(measured)
}
// ANCHOR_END: stream

// ANCHOR: stream_consumer
/// The consumer's side: read the whole array into its own buffer (the kernel copies
/// it there), or decode a message into a new `Vec`; ack, then checksum it.
fn consume(rx: &mut impl Read, tx: &mut impl Write, rounds: u32, format: Format) -> Result<()> {
    let bytes = receive_size(rx)?;
    let mut buffer = vec![1.0f64; bytes / 8]; // written once: already mapped
    let mut message = Vec::new();
    for round in 1..=rounds {
        let before = minor_faults();
        let received = match format {
            Format::Raw => {
                rx.read_exact(as_bytes_mut(&mut buffer))?;
                None
            }
            Format::Bytemuck => Some(receive_cast(rx, &mut message, round, bytes)?),
            Format::Postcard => Some(receive_message(rx, &mut message, round, bytes)?),
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

// ANCHOR: cast
/// The counterpart of pickling an array with protocol 5: the round number, then the
/// array's bytes — seen as bytes by one cast (bytemuck, no pass over the data) and
/// copied once into a new message — with the length in front.
fn send_cast(tx: &mut impl Write, round: u32, values: &[f64]) -> Result<()> {
    let bytes: &[u8] = bytemuck::cast_slice(values);
    let mut message = Vec::with_capacity(16 + bytes.len());
    message.extend_from_slice(&(8 + bytes.len() as u64).to_le_bytes());
    message.extend_from_slice(&u64::from(round).to_le_bytes());
    message.extend_from_slice(bytes); // the one copy
    Ok(tx.write_all(&message)?)
}

/// ...and unpickling it: one copy out of the message into a new `Vec<f64>`.
fn receive_cast(
    rx: &mut impl Read,
    buffer: &mut Vec<u8>,
    round: u32,
    bytes: usize,
) -> Result<Vec<f64>> {
    let (head, body) = read_frame(rx, buffer, bytes)?.split_at(8);
    ensure!(
        head == u64::from(round).to_le_bytes(),
        "expected round {round}"
    );
    ensure!(
        body.len() == bytes,
        "{} bytes, expected {bytes}",
        body.len()
    );
    let mut values = vec![0.0f64; bytes / 8];
    bytemuck::cast_slice_mut(&mut values).copy_from_slice(body); // the one copy
    Ok(values)
}
// ANCHOR_END: cast

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
/// Reads one message and decodes it into a new `Vec<f64>`.
fn receive_message(
    rx: &mut impl Read,
    buffer: &mut Vec<u8>,
    round: u32,
    bytes: usize,
) -> Result<Vec<f64>> {
    let message = read_frame(rx, buffer, bytes)?;
    let incoming: Incoming = postcard::from_bytes(message).context("decoding the message")?;
    if incoming.round != round {
        bail!("expected round {round}, got round {}", incoming.round);
    }
    Ok(incoming.values)
}

/// Reads a message with its length in front into `buffer`; the length must fit an
/// array of `bytes` (and a round number).
fn read_frame<'b>(rx: &mut impl Read, buffer: &'b mut Vec<u8>, bytes: usize) -> Result<&'b [u8]> {
    let mut length = [0u8; 8];
    rx.read_exact(&mut length)?;
    let length = u64::from_le_bytes(length);
    // The values, their count and the round: a few bytes more than the array.
    ensure!(
        8 <= length && length <= bytes as u64 + 32,
        "a message of {length} bytes"
    );
    buffer.resize(length as usize, 0);
    rx.read_exact(buffer)?;
    Ok(buffer)
}
// ANCHOR_END: postcard_receive

// ANCHOR: pipe
/// A pipe: the consumer is a helper whose standard input and output are pipes.
pub fn pipe(data: &[f64], rounds: u32) -> Result<Measured<'_>> {
    pipe_with(data, rounds, None)
}

// ANCHOR_END: pipe

// ANCHOR: bigpipe
/// The same pipe, enlarged from 64 KiB to 1 MiB (Linux's `F_SETPIPE_SZ`, up to
/// `/proc/sys/fs/pipe-max-size`): 16 times fewer sleeps and wake-ups. `None` elsewhere.
pub fn big_pipe(data: &[f64], rounds: u32) -> Result<Option<Measured<'_>>> {
    if cfg!(target_os = "linux") {
        pipe_with(data, rounds, Some(1 << 20)).map(Some)
    } else {
        Ok(None)
    }
}

fn pipe_with(data: &[f64], rounds: u32, capacity: Option<i32>) -> Result<Measured<'_>> {
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
        produce(&mut tx, &mut rx, data, rounds, Format::Raw)?
    };
    drop(tx); // end-of-file for the consumer
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(measured)
}
// ANCHOR_END: bigpipe

// ANCHOR: pipe_consumer
pub fn consume_pipe(rounds: u32) -> Result<()> {
    let (mut rx, mut tx) = (std::io::stdin().lock(), std::io::stdout().lock());
    consume(&mut rx, &mut tx, rounds, Format::Raw)
}
// ANCHOR_END: pipe_consumer

// ANCHOR: socket
/// A Unix domain socket: a path in the file system that the consumer connects to.
pub fn socket(data: &[f64], rounds: u32, format: Format) -> Result<Measured<'_>> {
    let (listener, path) = listen()?;
    let way = match format {
        Format::Raw => Way::Socket,
        Format::Bytemuck => Way::Bytemuck,
        Format::Postcard => Way::Postcard,
    };
    let consumer = spawn_consumer(way, &path.to_string_lossy(), rounds, false)?;
    let stream = accept(&listener)?;
    let measured = produce(&mut &stream, &mut &stream, data, rounds, format)?;
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(measured)
}

pub fn consume_socket(path: &str, rounds: u32, format: Format) -> Result<()> {
    let stream = connect(path)?;
    consume(&mut &stream, &mut &stream, rounds, format)
}
// ANCHOR_END: socket
