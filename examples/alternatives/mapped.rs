//! The ways that map memory: memcpy in one process (the limit), a shared-memory segment
//! made once and reused, a fresh segment every round, and a file mapped with memmap2.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use shared_memory::{Shmem, ShmemConf};
use shmbook::measure::{checksum, minor_faults};
use shmbook::{cleanup, names, os, PROCESS_TIMEOUT};

use crate::job::{spawn_consumer, spin_until, Measured, Way};

/// The array starts this far into every mapping; the first page holds [`Control`].
const HEADER: usize = 4096;

/// The first word of a mapping this example made: "shmbkalt".
const MAGIC: u64 = u64::from_le_bytes(*b"shmbkalt");

/// One word on a cache line of its own, so that the flags the two processes write do
/// not share a line (and do not slow each other down).
#[repr(C, align(64))]
struct Line(AtomicU64);

/// The first page: what the consumer checks before it trusts the mapping, then the
/// flags the producer and the consumer hand back and forth.
#[repr(C)]
struct Control {
    /// [`MAGIC`], written by the producer once `bytes` is set.
    magic: Line,
    /// The array's size in bytes.
    bytes: Line,
    /// The consumer has mapped (and pre-faulted) the array: the producer may start.
    ready: Line,
    /// The round whose array the producer has finished writing.
    sent: Line,
    /// The round the consumer has received: the timed part of the round ends here.
    ack: Line,
    /// The round the consumer has checksummed; `sum` and `faults` are its results.
    done: Line,
    sum: Line,
    faults: Line,
}

const _: () = assert!(std::mem::size_of::<Control>() <= HEADER);

/// A mapping seen as [`Control`] followed by the array's bytes.
struct Region<'m> {
    base: *mut u8,
    len: usize,
    _mapping: PhantomData<&'m ()>,
}

impl<'m> Region<'m> {
    /// `len` bytes at `base`, a mapping that lives for 'm; at least the header.
    fn new(base: *mut u8, len: usize) -> Result<Self> {
        ensure!(
            len >= HEADER,
            "the mapping has {len} bytes, less than the {HEADER}-byte header of this example"
        );
        Ok(Region {
            base,
            len,
            _mapping: PhantomData,
        })
    }

    fn of_shmem(shmem: &'m Shmem) -> Result<Self> {
        Self::new(shmem.as_ptr(), shmem.len())
    }

    fn of_mmap(map: &'m mut memmap2::MmapMut) -> Result<Self> {
        Self::new(map.as_mut_ptr(), map.len())
    }

    fn control(&self) -> &Control {
        // SAFETY: a mapping starts on a page boundary, which is aligned for Control (64
        // bytes); Control fits in the first page (asserted at compile time), which the
        // mapping holds (checked in `new`); it is made of atomics only, for which any
        // bits are valid and which both processes may access at the same time. The
        // borrow is tied to the mapping by the lifetime 'm.
        unsafe { &*self.base.cast::<Control>() }
    }

    /// The producer's side of the header: the array's size, then the magic word.
    fn announce(&self, bytes: usize) {
        self.control()
            .bytes
            .0
            .store(bytes as u64, Ordering::Relaxed);
        self.control().magic.0.store(MAGIC, Ordering::Release);
    }

    /// The consumer's side: the array's size, if this is a mapping the producer of
    /// this example announced; an error for anything else.
    fn announced(&self) -> Result<usize> {
        let control = self.control();
        ensure!(
            control.magic.0.load(Ordering::Acquire) == MAGIC,
            "the mapping does not start with this example's header"
        );
        let bytes = control.bytes.0.load(Ordering::Relaxed);
        ensure!(
            bytes.is_multiple_of(8) && bytes <= crate::job::MAX_SIZE as u64,
            "the header announces {bytes} bytes, not an array of f64 this example makes"
        );
        Ok(bytes as usize)
    }

    /// The array's bytes start here.
    fn payload(&self) -> *mut u8 {
        // SAFETY: HEADER is within the mapping (checked in `new`), so the result points
        // into it or one past its end.
        unsafe { self.base.add(HEADER) }
    }

    fn payload_len(&self) -> usize {
        self.len - HEADER
    }
}

/// Touches every page of `len` bytes at `at`, so that the page faults happen now.
fn prefault_read(at: *const u8, len: usize) {
    let page = os::page_size();
    for offset in (0..len).step_by(page) {
        // SAFETY: `at..at + len` lies inside a live mapping (callers pass the payload
        // or a whole segment); a volatile read of one byte per page maps the page now.
        unsafe { std::ptr::read_volatile(at.add(offset)) };
    }
}

// ANCHOR: memcpy
/// The limit: copying the array once, inside one process, into memory that is already
/// mapped. Any way of moving it to another process copies at least this once.
pub fn memcpy(data: &[f64], rounds: u32) -> Result<Measured> {
    let mut copy = vec![1.0f64; data.len()]; // written once: already mapped
    let mut measured = Measured::new();
    for _ in 0..rounds {
        let (before, start) = (minor_faults(), Instant::now());
        copy.copy_from_slice(data);
        std::hint::black_box(&mut copy);
        let time = start.elapsed();
        let matched = checksum(&copy) == checksum(data);
        measured.round(time, matched, minor_faults() - before);
    }
    Ok(measured)
}
// ANCHOR_END: memcpy

// ANCHOR: reused
/// Shared memory as it should be used for bulk data: one segment, created and
/// pre-faulted once, then reused round after round.
pub fn shm_reused(data: &[f64], rounds: u32) -> Result<Measured> {
    let bytes = std::mem::size_of_val(data);
    let name = names::unique("alt");
    let shmem = cleanup::segment(&name, || {
        ShmemConf::new().size(HEADER + bytes).os_id(&name).create()
    })
    .map_err(os::explain)
    .with_context(|| format!("creating {name}"))?;
    let region = Region::of_shmem(&shmem)?;
    // SAFETY: the payload has `bytes` bytes; no other process maps the segment yet.
    unsafe { std::ptr::write_bytes(region.payload(), 0, bytes) }; // pre-fault every page
    region.announce(bytes);
    let consumer = spawn_consumer(Way::Shm, &name, rounds, false)?;
    let measured = produce(region.control(), data, rounds, |_| {
        write_payload(&region, data)
    })?;
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(measured)
}
// ANCHOR_END: reused

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
fn consume_in_place(region: &Region, rounds: u32) -> Result<()> {
    let bytes = region.announced()?;
    let room = region.payload_len();
    ensure!(
        bytes <= room,
        "{bytes} bytes announced; the mapping has room for {room}"
    );
    prefault_read(region.payload(), bytes);
    consume(region.control(), rounds, |_| {
        // SAFETY: the payload is page-aligned and holds `bytes / 8` f64 (checked above;
        // any bits are a valid f64); the producer does not write it again until we
        // raise `done`, and the slice is gone by then.
        Ok(unsafe { std::slice::from_raw_parts(region.payload().cast::<f64>(), bytes / 8) })
    })
}
// ANCHOR_END: in_place_consumer

// ANCHOR: produce
/// The producer's rounds: `send` puts the array where the consumer will find it (and
/// returns what must live until the consumer is done with it), then raises `sent` and
/// spins until the consumer raises `ack`: the clock runs from `send` to `ack`.
fn produce<T>(
    control: &Control,
    data: &[f64],
    rounds: u32,
    mut send: impl FnMut(u64) -> Result<T>,
) -> Result<Measured> {
    let expected = checksum(data);
    let [ready, ack, done] = [&control.ready.0, &control.ack.0, &control.done.0];
    spin_until("the consumer", || ready.load(Ordering::Acquire) == 1)?;
    let mut measured = Measured::new();
    for round in 1..=u64::from(rounds) {
        let (before, start) = (minor_faults(), Instant::now());
        let sent = send(round)?;
        control.sent.0.store(round, Ordering::Release);
        spin_until("the ack", || ack.load(Ordering::Acquire) == round)?;
        let (time, mine) = (start.elapsed(), minor_faults() - before);
        // Off the clock: the consumer's checksum and page faults, through `done`.
        spin_until("the checksum", || done.load(Ordering::Acquire) == round)?;
        let matched = control.sum.0.load(Ordering::Relaxed) == expected;
        measured.round(
            time,
            matched,
            mine + control.faults.0.load(Ordering::Relaxed),
        );
        drop(sent);
    }
    Ok(measured)
}
// ANCHOR_END: produce

// ANCHOR: consume
/// The consumer's rounds: wait for `sent`, `receive` the array (a view of memory that
/// holds it), raise `ack`; then, off the clock, checksum it and raise `done`.
fn consume<T: AsRef<[f64]>>(
    control: &Control,
    rounds: u32,
    mut receive: impl FnMut(u64) -> Result<T>,
) -> Result<()> {
    control.ready.0.store(1, Ordering::Release);
    for round in 1..=u64::from(rounds) {
        let before = minor_faults();
        spin_until("the array", || {
            control.sent.0.load(Ordering::Acquire) == round
        })?;
        let values = receive(round)?;
        control.ack.0.store(round, Ordering::Release);
        let faults = minor_faults() - before;
        let sum = checksum(values.as_ref());
        control.sum.0.store(sum, Ordering::Relaxed);
        control.faults.0.store(faults, Ordering::Relaxed);
        control.done.0.store(round, Ordering::Release);
    }
    Ok(())
}
// ANCHOR_END: consume

/// The consumer of `shm` and `file`: maps what the producer made and consumes rounds.
/// Everything is sized from the mapping's real length and its checked header.
pub fn consume_reused(way: Way, peer: &str, rounds: u32) -> Result<()> {
    if way == Way::Shm {
        let shmem = open(peer)?;
        consume_in_place(&Region::of_shmem(&shmem)?, rounds)
    } else {
        let mut map = map_file(Path::new(peer))?;
        consume_in_place(&Region::of_mmap(&mut map)?, rounds)
    }
}

/// Opens the segment `name` (its real length is `len()`).
pub fn open(name: &str) -> Result<Shmem> {
    ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))
}

// ANCHOR: fresh
/// Shared memory used badly for bulk data: a new segment for every array. Each round
/// pays for creating and mapping it, and for page faults: in the producer (the system
/// finds and zeroes each page) and in the consumer (it maps the pages in turn).
pub fn shm_fresh(data: &[f64], rounds: u32) -> Result<Measured> {
    let bytes = std::mem::size_of_val(data);
    let base = names::unique("alt"); // a one-page segment for the flags only
    let create = |name: &str, size| {
        cleanup::segment(name, || ShmemConf::new().size(size).os_id(name).create())
            .map_err(os::explain)
    };
    let flags = create(&base, HEADER)?;
    let flags = Region::of_shmem(&flags)?;
    flags.announce(bytes);
    let consumer = spawn_consumer(Way::Fresh, &base, rounds, false)?;
    let measured = produce(flags.control(), data, rounds, |round| {
        let shmem = create(&format!("{base}-r{round}"), bytes)?;
        // SAFETY: the new segment holds `bytes` bytes; the consumer opens it only after
        // `sent` says this round.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr().cast(), shmem.as_ptr(), bytes) };
        Ok(shmem) // kept until the consumer is done; dropping it removes the segment
    })?;
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(measured)
}
// ANCHOR_END: fresh

// ANCHOR: fresh_consumer
pub fn consume_fresh(base: &str, rounds: u32) -> Result<()> {
    let flags = open(base)?;
    let flags = Region::of_shmem(&flags)?;
    let bytes = flags.announced()?;
    consume(flags.control(), rounds, |round| {
        let shmem = open(&format!("{base}-r{round}"))?;
        ensure!(shmem.len() == bytes, "round {round}: wrong size");
        prefault_read(shmem.as_ptr(), bytes); // map its pages into this process
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
pub fn file(data: &[f64], rounds: u32) -> Result<Measured> {
    let bytes = std::mem::size_of_val(data);
    let (file, path) = crate::job::temp_file("bin", |path| {
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
    let consumer = spawn_consumer(Way::File, &path.to_string_lossy(), rounds, false)?;
    let measured = produce(region.control(), data, rounds, |_| {
        write_payload(&region, data)
    })?;
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
