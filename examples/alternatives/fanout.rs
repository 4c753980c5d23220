//! Fan-out: one producer hands the same array to 1, 2 and 4 consumers. Through the
//! segment every consumer reads the producer's one copy; through sockets the producer
//! writes the array once per consumer.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use anyhow::{anyhow, Result};
use shmbook::alternatives::FANOUT;
use shmbook::alternatives::{
    accept, listen, send_size, spawn_consumer, two_words, wait_all, Aligned, Way,
};
use shmbook::helper::Helper;
use shmbook::measure::{as_bytes, checksum, make_array, minor_faults, size_text};
use shmbook::record::Fanout;

use crate::job::{print_row, Measured, Round};
use crate::mapped;

pub fn run(sizes: &[usize], rounds: u32, progress: bool) -> Result<Fanout> {
    let mut result = Fanout::default();
    for &size in sizes {
        let data = Aligned::copy_of(&make_array(size / 8));
        println!(
            "one producer, {} to each of 1, 2 and 4 consumers, {rounds} rounds, each beside a memcpy",
            size_text(size)
        );
        for consumers in [1, 2, 4] {
            for &way in FANOUT {
                if progress {
                    eprintln!(
                        "[{}] fan-out {} to {consumers} ...",
                        size_text(size),
                        way.name()
                    );
                }
                anyhow::ensure!(!shmbook::cleanup::interrupted(), "interrupted");
                let measured = match way {
                    Way::Socket => sockets(&data, rounds, consumers)?,
                    _ => mapped::shm_reused(&data, rounds, consumers)?,
                };
                let mut row = measured.row(way, size);
                anyhow::ensure!(row.matched, "a consumer's checksum differed");
                row.consumers = Some(consumers as u32);
                let (what, whom) = (
                    if way == Way::Socket {
                        "sockets"
                    } else {
                        "segment"
                    },
                    if consumers == 1 {
                        "consumer"
                    } else {
                        "consumers"
                    },
                );
                row.label = format!("{what}, {consumers} {whom}");
                print_row(&row);
                result.rows.push(row);
            }
        }
    }
    Ok(result)
}

// ANCHOR: sockets
/// One connection per consumer, and one writing thread per connection, so that every
/// consumer reads while the others are written to. The clock runs from the first
/// byte until the last consumer's ack (the threads' start-up included).
fn sockets(data: &[f64], rounds: u32, consumers: usize) -> Result<Measured<'_>> {
    let (helpers, streams) = connect_consumers(consumers, rounds, data)?;
    let (expected, mut measured) = (checksum(data), Measured::new(data));
    for _ in 0..rounds {
        measured.round(|| {
            let (before, start) = (minor_faults(), Instant::now());
            std::thread::scope(|s| {
                let writers: Vec<_> = (streams.iter())
                    .map(|stream| s.spawn(move || send_one(stream, data)))
                    .collect();
                let mut joined = writers.into_iter().map(|w| w.join());
                joined.try_for_each(|j| j.map_err(|_| anyhow!("a writer panicked"))?)
            })?;
            let (time, mine) = (start.elapsed(), minor_faults() - before);
            let (matched, theirs) = reports(&streams, expected)?; // off the clock
            Ok(Round::new(time, matched, Some(mine + theirs)))
        })?;
    }
    wait_all(helpers)?;
    Ok(measured)
}

/// One consumer's part of a round: the whole array, then its one-byte ack.
fn send_one(mut stream: &UnixStream, data: &[f64]) -> Result<()> {
    stream.write_all(as_bytes(data))?;
    Ok(stream.read_exact(&mut [0u8; 1])?)
}
// ANCHOR_END: sockets

/// Starts the consumers, accepts their connections and tells each the array's size.
fn connect_consumers(
    consumers: usize,
    rounds: u32,
    data: &[f64],
) -> Result<(Vec<Helper>, Vec<UnixStream>)> {
    let (listener, path) = listen()?;
    let path = path.to_string_lossy();
    let helpers: Vec<_> = (0..consumers)
        .map(|_| spawn_consumer(Way::Socket, &path, rounds, false))
        .collect::<Result<_>>()?;
    let streams: Vec<_> = (0..consumers)
        .map(|_| accept(&listener))
        .collect::<Result<_>>()?;
    for stream in &streams {
        send_size(&mut &*stream, std::mem::size_of_val(data))?; // once, off the clock
    }
    Ok((helpers, streams))
}

/// Every consumer's checksum and page faults: whether all matched, and the sum.
fn reports(streams: &[UnixStream], expected: u64) -> Result<(bool, u64)> {
    let (mut matched, mut faults) = (true, 0);
    for mut stream in streams {
        let mut report = [0u8; 16];
        stream.read_exact(&mut report)?;
        let [sum, theirs] = two_words(&report)?;
        (matched, faults) = (matched && sum == expected, faults + theirs);
    }
    Ok((matched, faults))
}
