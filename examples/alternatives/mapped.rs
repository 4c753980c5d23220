//! The ways that map memory: a shared-memory segment made once and reused (for one
//! consumer or several), the array produced in place there and only a flag handed
//! over, a fresh segment every round, and a file mapped with memmap2.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use shared_memory::{Shmem, ShmemConf};
use shmbook::alternatives::{
    open, prefault_segment, spawn_consumer, spin_until, temp_file, wait_all, Control, Line, Pinned,
    Reader, Region, Way, HEADER, MAX_READERS,
};
use shmbook::helper::Helper;
use shmbook::measure::{checksum, fill_array, minor_faults};
use shmbook::{cleanup, names, os, PROCESS_TIMEOUT};

use crate::job::{Measured, Round};

// ANCHOR: reused
/// Shared memory as it should be used for bulk data: one segment, created and
/// pre-faulted once, then reused round after round, read in place by `readers`
/// consumers (1 for the throughput table, up to 4 for the fan-out).
pub fn shm_reused(data: &[f64], rounds: u32, readers: usize) -> Result<Measured<'_>> {
    let bytes = std::mem::size_of_val(data);
    let (name, shmem) = make_segment(bytes)?;
    let region = Region::of_shmem(&shmem)?;
    region
        .control()
        .pinned
        .0
        .store(u64::from(readers == 1), Ordering::Release);
    let consumers = spawn_readers(Way::Shm, &name, rounds, readers)?;
    let measured = produce(
        region.control(),
        readers,
        data,
        rounds,
        |_| Ok(()),
        |_| write_payload(&region, data),
    )?;
    wait_all(consumers)?;
    Ok(measured)
}
// ANCHOR_END: reused

// ANCHOR: zero_copy
/// No copy at all: the producer makes the array in the segment itself (`fill_array`
/// computes the values where they will be read, off the clock, as every other way
/// computed its array before its clock started), and hands over nothing but the
/// `sent` flag. The clock runs from the flag to the consumer's ack.
pub fn zero_copy(data: &[f64], rounds: u32) -> Result<Measured<'_>> {
    let bytes = std::mem::size_of_val(data);
    let (name, shmem) = make_segment(bytes)?;
    let region = Region::of_shmem(&shmem)?;
    region.control().pinned.0.store(1, Ordering::Release);
    let consumers = spawn_readers(Way::ZeroCopy, &name, rounds, 1)?;
    let produce_in_place = |_| {
        // SAFETY: the payload holds `bytes / 8` f64 (it was made that size) and is
        // page-aligned; the consumer reads it only after `sent` and is done with the
        // previous round (`produce` waited for `done`), so nobody else accesses it.
        let slot = unsafe { std::slice::from_raw_parts_mut(region.payload().cast(), bytes / 8) };
        fill_array(slot);
        Ok(())
    };
    let measured = produce(region.control(), 1, data, rounds, produce_in_place, |_| {
        Ok(())
    })?;
    wait_all(consumers)?;
    Ok(measured)
}
// ANCHOR_END: zero_copy

/// A segment with the header page and room for `bytes`, every page written once, its
/// header announcing the size: what `shm_reused` and `zero_copy` hand their consumers.
fn make_segment(bytes: usize) -> Result<(String, shmbook::cleanup::Tracked<Shmem>)> {
    let name = names::unique("alt");
    let shmem = cleanup::segment(&name, || {
        ShmemConf::new().size(HEADER + bytes).os_id(&name).create()
    })
    .map_err(os::explain)
    .with_context(|| format!("creating {name}"))?;
    os::reserve(&name, HEADER + bytes)?; // room now, or an error instead of SIGBUS
    let region = Region::of_shmem(&shmem)?;
    // SAFETY: the payload has `bytes` bytes; no other process maps the segment yet.
    unsafe { std::ptr::write_bytes(region.payload(), 0, bytes) }; // pre-fault every page
    region.announce(bytes);
    Ok((name, shmem))
}

/// Starts `readers` consumers of the segment `name`; the `i`th uses flag set `i`.
fn spawn_readers(way: Way, name: &str, rounds: u32, readers: usize) -> Result<Vec<Helper>> {
    ensure!(
        (1..=MAX_READERS).contains(&readers),
        "1 to {MAX_READERS} consumers"
    );
    (0..readers)
        .map(|i| spawn_consumer(way, &format!("{name}#{i}"), rounds, false))
        .collect()
}

// ANCHOR: in_place
/// Copies the array into the mapping: the one copy of the reused ways.
fn write_payload(region: &Region, data: &[f64]) -> Result<()> {
    let bytes = std::mem::size_of_val(data);
    ensure!(bytes <= region.payload_len(), "the array does not fit");
    // SAFETY: the payload holds `bytes` bytes (checked) and does not overlap `data`;
    // the consumer reads it only after `sent` says this round, and it is done with the
    // previous round (`produce` waited for `done`).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr().cast(), region.payload(), bytes) };
    Ok(())
}
// ANCHOR_END: in_place

// ANCHOR: in_place_consumer
/// The consumer of `shm` and `file`: the array is already in its memory when `sent`
/// says so. Raising `ack` at once is honest: no byte needs to be copied.
fn consume_in_place(region: &Region, reader: usize, rounds: u32) -> Result<()> {
    let bytes = region.announced()?;
    let room = region.payload_len();
    ensure!(
        bytes <= room,
        "{bytes} bytes announced; the mapping has room for {room}"
    );
    region.prefault(bytes);
    consume(region.control(), reader, rounds, |_| {
        // SAFETY: the payload is page-aligned and holds `bytes / 8` f64 (checked above;
        // any bits are a valid f64); the producer does not write it again until we
        // raise `done`, and the slice is gone by then.
        Ok(unsafe { std::slice::from_raw_parts(region.payload().cast::<f64>(), bytes / 8) })
    })
}
// ANCHOR_END: in_place_consumer

// ANCHOR: produce
/// The producer's rounds for `readers` consumers: `prepare` runs off the clock; `send`
/// puts the array where the consumers will find it (and returns what must live until
/// they are done with it), then the producer raises `sent` and spins until every
/// consumer raised its `ack`: the clock runs from `send` to the last `ack`.
fn produce<'a, T>(
    control: &Control,
    readers: usize,
    data: &'a [f64],
    rounds: u32,
    mut prepare: impl FnMut(u64) -> Result<()>,
    mut send: impl FnMut(u64) -> Result<T>,
) -> Result<Measured<'a>> {
    let expected = checksum(data);
    let all = |flag: fn(&Reader) -> &Line, value| control.all(readers, flag, value);
    spin_until("the consumers", || all(|r| &r.ready, 1))?;
    let _core = Pinned::to(if readers == 1 { Some(0) } else { None });
    let mut measured = Measured::new(data);
    for round in 1..=u64::from(rounds) {
        measured.round(|| {
            prepare(round)?;
            let (before, start) = (minor_faults(), Instant::now());
            let sent = send(round)?;
            control.sent.0.store(round, Ordering::Release);
            spin_until("the acks", || all(|r| &r.ack, round))?;
            let (time, mine) = (start.elapsed(), minor_faults() - before);
            // Off the clock: the consumers' checksums and page faults, through `done`.
            spin_until("the checksums", || all(|r| &r.done, round))?;
            let (matched, theirs) = control.results(readers, expected);
            drop(sent);
            Ok(Round::new(time, matched, Some(mine + theirs)))
        })?;
    }
    Ok(measured)
}
// ANCHOR_END: produce

// ANCHOR: consume
/// The consumer's rounds, with flag set `reader`: wait for `sent`, `receive` the array
/// (a view of memory that holds it), raise `ack`; then, off the clock, checksum it and
/// raise `done`.
fn consume<T: AsRef<[f64]>>(
    control: &Control,
    reader: usize,
    rounds: u32,
    mut receive: impl FnMut(u64) -> Result<T>,
) -> Result<()> {
    let flags = control.readers.get(reader).context("no such consumer")?;
    let _core = Pinned::to((control.pinned.0.load(Ordering::Acquire) == 1).then_some(1));
    flags.ready.0.store(1, Ordering::Release);
    for round in 1..=u64::from(rounds) {
        let before = minor_faults();
        spin_until("the array", || {
            control.sent.0.load(Ordering::Acquire) == round
        })?;
        let values = receive(round)?;
        flags.ack.0.store(round, Ordering::Release);
        let faults = minor_faults() - before;
        flags
            .sum
            .0
            .store(checksum(values.as_ref()), Ordering::Relaxed);
        flags.faults.0.store(faults, Ordering::Relaxed);
        flags.done.0.store(round, Ordering::Release);
    }
    Ok(())
}
// ANCHOR_END: consume

/// The consumer of `shm` and `file`: maps what the producer made and consumes rounds.
/// Everything is sized from the mapping's real length and its checked header.
/// A segment's peer is `NAME#READER`: which set of flags is this consumer's.
pub fn consume_reused(way: Way, peer: &str, rounds: u32) -> Result<()> {
    if way == Way::File {
        let mut map = map_file(Path::new(peer))?;
        return consume_in_place(&Region::of_mmap(&mut map)?, 0, rounds);
    }
    let (name, reader) = peer.rsplit_once('#').context("the peer is NAME#READER")?;
    let reader: usize = reader.parse().context("the reader is a number")?;
    ensure!(
        reader < MAX_READERS,
        "reader {reader}: at most {MAX_READERS}"
    );
    let shmem = open(name)?;
    consume_in_place(&Region::of_shmem(&shmem)?, reader, rounds)
}

// ANCHOR: fresh
/// Shared memory used badly for bulk data: a new segment for every array. Each round
/// pays for creating and mapping it, and for page faults: in the producer (the system
/// finds and zeroes each page) and in the consumer (it maps the pages in turn).
pub fn shm_fresh(data: &[f64], rounds: u32) -> Result<Measured<'_>> {
    let bytes = std::mem::size_of_val(data);
    let base = names::unique("alt"); // a one-page segment for the flags only
    let create = |name: &str, size| {
        let shmem = cleanup::segment(name, || ShmemConf::new().size(size).os_id(name).create())
            .map_err(os::explain)?;
        os::reserve(name, size)?; // room now, or an error instead of SIGBUS
        anyhow::Ok(shmem)
    };
    let flags = create(&base, HEADER)?;
    let flags = Region::of_shmem(&flags)?;
    flags.announce(bytes);
    flags.control().pinned.0.store(1, Ordering::Release);
    let consumer = spawn_consumer(Way::Fresh, &base, rounds, false)?;
    let measured = produce(
        flags.control(),
        1,
        data,
        rounds,
        |_| Ok(()),
        |round| {
            let shmem = create(&format!("{base}-r{round}"), bytes)?;
            // SAFETY: the new segment holds `bytes` bytes; the consumer opens it only after
            // `sent` says this round.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr().cast(), shmem.as_ptr(), bytes) };
            Ok(shmem) // kept until the consumer is done; dropping it removes the segment
        },
    )?;
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(measured)
}
// ANCHOR_END: fresh

// ANCHOR: fresh_consumer
pub fn consume_fresh(base: &str, rounds: u32) -> Result<()> {
    let flags = open(base)?;
    let flags = Region::of_shmem(&flags)?;
    let bytes = flags.announced()?;
    consume(flags.control(), 0, rounds, |round| {
        let shmem = open(&format!("{base}-r{round}"))?;
        ensure!(shmem.len() == bytes, "round {round}: wrong size");
        prefault_segment(&shmem); // map its pages into this process
        Ok(Segment(shmem))
    })
}

/// A segment seen as the `f64`s in it, for the checksum.
struct Segment(Shmem);

impl AsRef<[f64]> for Segment {
    fn as_ref(&self) -> &[f64] {
        // SAFETY: the segment is page-aligned and holds len / 8 f64 (its real length);
        // the producer wrote it before raising `sent` and does not write it again; the
        // slice borrows the Shmem, which keeps it mapped.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<f64>(), self.0.len() / 8) }
    }
}
// ANCHOR_END: fresh_consumer

// ANCHOR: file
/// A file mapped into both processes with memmap2: the same protocol as the reused
/// segment, but the memory is the file's page cache, and the data stays in the file.
pub fn file(data: &[f64], rounds: u32) -> Result<Measured<'_>> {
    let bytes = std::mem::size_of_val(data);
    let (file, path) = temp_file("bin", |path| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    })?;
    file.set_len((HEADER + bytes) as u64)?;
    let mut map = map_file(&path)?;
    map[HEADER..].fill(0); // pre-fault: map every page now
    let region = Region::of_mmap(&mut map)?;
    region.announce(bytes);
    region.control().pinned.0.store(1, Ordering::Release);
    let consumer = spawn_consumer(Way::File, &path.to_string_lossy(), rounds, false)?;
    let measured = produce(
        region.control(),
        1,
        data,
        rounds,
        |_| Ok(()),
        |_| write_payload(&region, data),
    )?;
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(measured)
}

fn map_file(path: &Path) -> Result<memmap2::MmapMut> {
    let file = File::options().read(true).write(true).open(path);
    let file = file.with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: memmap2 requires that nobody truncates or rewrites the file through
    // other means while it is mapped: only this example's two processes use this
    // file, and both access it only through their mappings, with the protocol above.
    unsafe { memmap2::MmapMut::map_mut(&file) }
        .with_context(|| format!("mapping {}", path.display()))
}
// ANCHOR_END: file
