//! The Alternatives chapter's plumbing: the ways and their command-line values, the
//! header and flags of a mapping the producer and the consumer share, the one-page
//! segment of the latency ways, bounded spinning, temporary files, helper start-up.
//!
//! None of this is the chapter's lesson; its listings call these functions by name.

use std::io::{Read, Write};
use std::marker::PhantomData;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::ValueEnum;
use raw_sync::events::{Event, EventImpl, EventInit};
use raw_sync::Timeout;
use shared_memory::Shmem;

use crate::cleanup::{self, Tracked};
use crate::helper::Helper;
use crate::sync::SyncContext;
use crate::{os, wait, PROCESS_TIMEOUT};

/// The ways, by the names `--ways` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum Way {
    Threads,
    ZeroCopy,
    Shm,
    Fresh,
    File,
    Socket,
    Pipe,
    BigPipe,
    Bytemuck,
    Postcard,
    Redis,
    Floor,
    Spin,
    Event,
}

/// The ways `throughput` runs, in this order.
pub const THROUGHPUT: &[Way] = &[
    Way::Threads,
    Way::ZeroCopy,
    Way::Shm,
    Way::Fresh,
    Way::File,
    Way::Socket,
    Way::Pipe,
    Way::BigPipe,
    Way::Bytemuck,
    Way::Postcard,
    Way::Redis,
];

/// The ways `latency` runs, in this order.
pub const LATENCY: &[Way] = &[
    Way::Floor,
    Way::Spin,
    Way::Event,
    Way::Pipe,
    Way::Socket,
    Way::Redis,
];

/// The ways `fanout` runs.
pub const FANOUT: &[Way] = &[Way::Shm, Way::Socket];

/// The largest array: the producer, the `memcpy` and a consumer each hold one.
pub const MAX_SIZE: usize = 1 << 30;

impl Way {
    /// The name `--ways` and the helpers' command lines use.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }

    /// The label column of the tables.
    pub fn label(self) -> &'static str {
        match self {
            Way::Threads => "threads, Vec moved",
            Way::ZeroCopy => "zero-copy hand-over",
            Way::Shm => "shared memory, reused",
            Way::Fresh => "shared memory, fresh",
            Way::File => "file mapping (memmap2)",
            Way::Socket => "Unix socket",
            Way::Pipe => "pipe",
            Way::BigPipe => "pipe, 1 MiB buffer",
            Way::Bytemuck => "bytemuck over a socket",
            Way::Postcard => "postcard over a socket",
            Way::Redis => "Redis, RPUSH + BLPOP",
            Way::Floor => "floor: two threads",
            Way::Spin => "shared memory, spinning",
            Way::Event => "shared memory, Event",
        }
    }
}

/// A `--ways` value: one of `allowed`, for `#[arg(value_parser = way_in(THROUGHPUT))]`.
pub fn way_in(allowed: &'static [Way]) -> impl TypedValueParser<Value = Way> {
    PossibleValuesParser::new(allowed.iter().filter_map(|w| w.to_possible_value()))
        .try_map(|name| Way::from_str(&name, false))
}

/// `--size`: 4 KiB to [`MAX_SIZE`], a whole number of `f64`.
pub fn array_size(word: &str) -> Result<usize, String> {
    let size = crate::cli::bytes(4096, MAX_SIZE)(word)?;
    if !size.is_multiple_of(8) {
        return Err(format!("{word} is not a multiple of 8 bytes (one f64)"));
    }
    Ok(size)
}

/// `--redis 127.0.0.1:6379`: a Redis server's address.
pub fn address(word: &str) -> Result<String, String> {
    match word.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(word.to_string())
        }
        _ => Err(format!(
            "'{word}' is not an address (write e.g. 127.0.0.1:6379)"
        )),
    }
}

/// Starts the consumer of `way` as a helper process; `peer` says where to find the
/// producer (a segment name, a path, an address). With `piped`, the helper's standard
/// input and output are pipes to this process. The consumer learns the array's size
/// from what it attaches to, never from its command line.
pub fn spawn_consumer(way: Way, peer: &str, rounds: u32, piped: bool) -> Result<Helper> {
    spawn_helper("_consume", way, peer, ("--rounds", rounds), piped)
}

/// Starts the helper `ROLE WAY PEER FLAG COUNT` (`_consume` or `_echo`).
pub fn spawn_helper(
    role: &str,
    way: Way,
    peer: &str,
    (flag, count): (&str, u32),
    piped: bool,
) -> Result<Helper> {
    let (name, count) = (way.name(), count.to_string());
    let args = [name.as_str(), peer, flag, &count];
    if piped {
        Helper::spawn_piped(role, &args)
    } else {
        Helper::spawn(role, &args)
    }
}

/// The checksum and page-fault count a consumer reports: two little-endian words.
pub fn two_words(report: &[u8]) -> Result<[u64; 2]> {
    let Ok(b) = <[u8; 16]>::try_from(report) else {
        bail!("a report of {} bytes, expected 16", report.len());
    };
    let (sum, faults) = b.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    Ok([word(sum), word(faults)])
}

/// Waits for `ready()` by spinning: no sleep, so the wake-up costs nothing but the
/// cache line. After 100 µs it also yields the core between checks, so that on a busy
/// machine the other process gets to run; after `PROCESS_TIMEOUT` it fails.
pub fn spin_until(what: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    loop {
        for _ in 0..1024 {
            if ready() {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let waited = start.elapsed();
        if waited > PROCESS_TIMEOUT {
            bail!(
                "timed out after {} s waiting for {what}",
                PROCESS_TIMEOUT.as_secs()
            );
        }
        if waited > Duration::from_micros(100) {
            std::thread::yield_now();
        }
    }
}

/// Creates `shmbook-alt-PID-N.EXT` in the temporary directory through `create`, and
/// registers it for removal once it exists (see `cleanup::file`). A name a
/// leftover holds is skipped, never removed.
pub fn temp_file<T>(
    ext: &str,
    create: impl Fn(&Path) -> std::io::Result<T>,
) -> Result<(Tracked<T>, PathBuf)> {
    use std::io::ErrorKind::{AddrInUse, AlreadyExists};
    let dir = std::env::temp_dir();
    for n in 0..100 {
        let path = dir.join(format!("shmbook-alt-{}-{n}.{ext}", std::process::id()));
        match cleanup::file(&path, || create(&path)) {
            Ok(made) => return Ok((made, path)),
            Err(e) if matches!(e.kind(), AlreadyExists | AddrInUse) => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    bail!("100 names in {} are taken already", dir.display())
}

/// The array starts this far into every mapping; the first page holds [`Control`].
pub const HEADER: usize = 4096;

/// The first word of a mapping this example made: "shmbkalt".
pub const MAGIC: u64 = u64::from_le_bytes(*b"shmbkalt");

/// One word on a cache line of its own, so that the flags the two processes write do
/// not share a line (and do not slow each other down).
#[repr(C, align(64))]
pub struct Line(pub AtomicU64);

/// The first page: what the consumer checks before it trusts the mapping, then the
/// flags the producer and its consumers hand back and forth.
#[repr(C)]
pub struct Control {
    /// [`MAGIC`], written by the producer once `bytes` is set.
    pub magic: Line,
    /// The array's size in bytes.
    pub bytes: Line,
    /// The round whose array the producer has finished writing.
    pub sent: Line,
    /// 1 when producer and consumer each keep to a core of their own (one consumer,
    /// two or more cores; see [`pin`]).
    pub pinned: Line,
    /// One set of flags per consumer (the fan-out has up to [`MAX_READERS`]).
    pub readers: [Reader; MAX_READERS],
}

/// The most consumers one mapping serves.
pub const MAX_READERS: usize = 4;

/// One consumer's flags.
#[repr(C)]
pub struct Reader {
    /// The consumer has mapped (and pre-faulted) the array: the producer may start.
    pub ready: Line,
    /// The round the consumer has received: the timed part of the round ends here.
    pub ack: Line,
    /// The round the consumer has checksummed; `sum` and `faults` are its results.
    pub done: Line,
    pub sum: Line,
    pub faults: Line,
}

const _: () = assert!(std::mem::size_of::<Control>() <= HEADER);

impl Control {
    /// True when each of the first `readers` consumers shows `value` in its `flag`.
    pub fn all(&self, readers: usize, flag: fn(&Reader) -> &Line, value: u64) -> bool {
        (self.readers.iter().take(readers)).all(|r| flag(r).0.load(Ordering::Acquire) == value)
    }

    /// Whether the first `readers` consumers' checksums are all `expected`, and their
    /// page faults together.
    pub fn results(&self, readers: usize, expected: u64) -> (bool, u64) {
        let readers = &self.readers[..readers.min(MAX_READERS)];
        let matched = readers
            .iter()
            .all(|r| r.sum.0.load(Ordering::Relaxed) == expected);
        (
            matched,
            readers
                .iter()
                .map(|r| r.faults.0.load(Ordering::Relaxed))
                .sum(),
        )
    }
}

/// A mapping seen as [`Control`] followed by the array's bytes.
pub struct Region<'m> {
    base: *mut u8,
    len: usize,
    _mapping: PhantomData<&'m ()>,
}

impl<'m> Region<'m> {
    /// `len` bytes at `base`, a mapping that lives for 'm; at least the header.
    pub fn new(base: *mut u8, len: usize) -> Result<Self> {
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

    pub fn of_shmem(shmem: &'m Shmem) -> Result<Self> {
        Self::new(shmem.as_ptr(), shmem.len())
    }

    pub fn of_mmap(map: &'m mut memmap2::MmapMut) -> Result<Self> {
        Self::new(map.as_mut_ptr(), map.len())
    }

    pub fn control(&self) -> &Control {
        // SAFETY: a mapping starts on a page boundary, which is aligned for Control (64
        // bytes); Control fits in the first page (asserted at compile time), which the
        // mapping holds (checked in `new`); it is made of atomics only, for which any
        // bits are valid and which both processes may access at the same time. The
        // borrow is tied to the mapping by the lifetime 'm.
        unsafe { &*self.base.cast::<Control>() }
    }

    /// The producer's side of the header: the array's size, then the magic word.
    pub fn announce(&self, bytes: usize) {
        self.control()
            .bytes
            .0
            .store(bytes as u64, Ordering::Relaxed);
        self.control().magic.0.store(MAGIC, Ordering::Release);
    }

    /// The consumer's side: the array's size, if this is a mapping the producer of
    /// this example announced; an error for anything else.
    pub fn announced(&self) -> Result<usize> {
        let control = self.control();
        ensure!(
            control.magic.0.load(Ordering::Acquire) == MAGIC,
            "the mapping does not start with this example's header"
        );
        let bytes = control.bytes.0.load(Ordering::Relaxed);
        ensure!(
            bytes.is_multiple_of(8) && bytes <= MAX_SIZE as u64,
            "the header announces {bytes} bytes, not an array of f64 this example makes"
        );
        Ok(bytes as usize)
    }

    /// The array's bytes start here.
    pub fn payload(&self) -> *mut u8 {
        // SAFETY: HEADER is within the mapping (checked in `new`), so the result points
        // into it or one past its end.
        unsafe { self.base.add(HEADER) }
    }

    pub fn payload_len(&self) -> usize {
        self.len - HEADER
    }

    /// Maps the first `bytes` of the payload into this process now (one read per page).
    pub fn prefault(&self, bytes: usize) {
        // SAFETY: at most the payload's length, which lies inside the mapping (`new`).
        unsafe { prefault_read(self.payload(), bytes.min(self.payload_len())) }
    }
}

/// Touches every page of `len` bytes at `at`, so that the page faults happen now.
///
/// # Safety
/// `at..at + len` lies inside a live mapping.
unsafe fn prefault_read(at: *const u8, len: usize) {
    let page = os::page_size();
    for offset in (0..len).step_by(page) {
        // SAFETY: `at..at + len` lies inside a live mapping (the caller's promise); a
        // volatile read of one byte per page maps the page now.
        unsafe { std::ptr::read_volatile(at.add(offset)) };
    }
}

/// Maps every page of a whole segment into this process now (one read per page).
pub fn prefault_segment(shmem: &Shmem) {
    // SAFETY: the segment's `len()` bytes are mapped for as long as `shmem` lives.
    unsafe { prefault_read(shmem.as_ptr(), shmem.len()) }
}

/// Opens the segment `name` with context (its real length is `len()`): the same call
/// as the Sizing chapter's.
pub use crate::sizing::open;

/// Runs `round_trip` `n + 1` times, numbered from 1: the first one untimed — once it
/// came back, both sides are running and ready — then `n` timed one by one, into a
/// histogram of nanoseconds. The echo answers `n + 1` messages.
pub fn timed_round_trips(
    n: u32,
    mut round_trip: impl FnMut(u64) -> Result<()>,
) -> Result<hdrhistogram::Histogram<u64>> {
    round_trip(1).context("the first, untimed round trip")?;
    let mut histogram = hdrhistogram::Histogram::new(3).context("a histogram")?;
    for i in 2..=u64::from(n) + 1 {
        let start = Instant::now();
        round_trip(i)?;
        histogram.record(start.elapsed().as_nanos() as u64)?;
    }
    Ok(histogram)
}

/// A latency way's segment: one page, its words seen as atomics.
pub const PAGE: usize = 4096;

/// A segment for one latency way, with its words seen as atomics.
pub fn words(shmem: &Shmem) -> &[AtomicU64] {
    assert!(
        shmem.len() >= PAGE,
        "checked by `page_segment` and `attach_page`"
    );
    // SAFETY: the mapping starts on a page boundary (aligned for u64) and holds at
    // least PAGE / 8 whole words (asserted); atomics are valid for any bits and may be
    // shared between processes; the borrow cannot outlive `shmem`.
    unsafe { std::slice::from_raw_parts(shmem.as_ptr().cast::<AtomicU64>(), PAGE / 8) }
}

/// A new one-page segment for one latency way, and its name for the echo. Its last
/// word says that this example made it.
pub fn page_segment() -> Result<(String, Tracked<Shmem>)> {
    let shmem = cleanup::unique_segment("alt", PAGE)?;
    let name = shmem.get_os_id().to_string();
    ensure!(shmem.len() >= PAGE, "{name} is smaller than asked for");
    words(&shmem)[PAGE_MAGIC_AT].store(PAGE_MAGIC, Ordering::Release);
    Ok((name, shmem))
}

/// The echo's side: opens the segment and checks that it is one [`page_segment`] made,
/// before anything in it is used (the events in it, above all).
pub fn attach_page(name: &str) -> Result<Shmem> {
    let shmem = open(name)?;
    ensure!(
        shmem.len() >= PAGE,
        "{name} has {} bytes, not the {PAGE} this example makes",
        shmem.len()
    );
    ensure!(
        words(&shmem)[PAGE_MAGIC_AT].load(Ordering::Acquire) == PAGE_MAGIC,
        "{name} was not made by this example"
    );
    Ok(shmem)
}

/// The last word of the page, and what [`page_segment`] writes there: "shmbklat".
const PAGE_MAGIC_AT: usize = PAGE / 8 - 1;
const PAGE_MAGIC: u64 = u64::from_le_bytes(*b"shmbklat");

/// Two auto-reset events, at bytes 1024 and 2048 of the segment: made there by the
/// creator, found there by the other process.
pub fn events(shmem: &Shmem, create: bool) -> Result<(Box<dyn EventImpl>, Box<dyn EventImpl>)> {
    let make = |offset: usize| {
        // SAFETY: offset + Event's size (a pthread mutex and condition variable, well
        // under 1 KiB) lies inside the segment's first page, which it holds (`page_segment`
        // and `attach_page`, the only ways to one, check that) and which outlives the event;
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
pub fn wait_limit() -> Timeout {
    Timeout::Val(Duration::from_secs(PROCESS_TIMEOUT.as_secs()))
}

/// The array's size, sent once before the rounds: the consumer sizes its buffer by it.
pub fn send_size(tx: &mut impl Write, bytes: usize) -> Result<()> {
    Ok(tx.write_all(&(bytes as u64).to_le_bytes())?)
}

/// The size [`send_size`] sent, checked: a whole number of f64, at most `MAX_SIZE`.
pub fn receive_size(rx: &mut impl Read) -> Result<usize> {
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

/// A listening socket at a new path in the temporary directory, removed with the
/// returned guard (and on Ctrl-C).
pub fn listen() -> Result<(Tracked<UnixListener>, PathBuf)> {
    let (listener, path) = temp_file("sock", |p| UnixListener::bind(p))?;
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

/// Connects to the socket at `path`; reads and writes on it are bounded like [`accept`]'s.
pub fn connect(path: &str) -> Result<UnixStream> {
    let stream = UnixStream::connect(path).with_context(|| format!("connecting to {path}"))?;
    bound(stream)
}

/// Blocking again, with every read and write bounded by [`PROCESS_TIMEOUT`].
fn bound(stream: UnixStream) -> Result<UnixStream> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(PROCESS_TIMEOUT))?;
    stream.set_write_timeout(Some(PROCESS_TIMEOUT))?;
    Ok(stream)
}

/// The Redis client's side of the Redis way: bounded connections and pops, keys of
/// this run.
pub mod redis_client {
    use anyhow::{bail, Context, Result};
    use redis::Commands;

    use crate::PROCESS_TIMEOUT;

    /// A connection to the Redis server at `addr`, with every call bounded by
    /// [`PROCESS_TIMEOUT`], checked with a `PING`.
    pub fn connect(addr: &str) -> Result<redis::Connection> {
        let client = redis::Client::open(format!("redis://{addr}/"))?;
        let mut con = client
            .get_connection_with_timeout(PROCESS_TIMEOUT)
            .with_context(|| format!("connecting to Redis at {addr}"))?;
        con.set_read_timeout(Some(PROCESS_TIMEOUT))?;
        con.set_write_timeout(Some(PROCESS_TIMEOUT))?;
        let _: String = redis::cmd("PING").query(&mut con)?;
        Ok(con)
    }

    /// Keys of this run: `shmbook:PID:NAME`, so that runs sharing a server do not meet.
    pub fn key(name: &str) -> String {
        format!("shmbook:{}:{name}", std::process::id())
    }

    /// BLPOP: waits (at most `PROCESS_TIMEOUT`) for an element of the list `key`.
    pub fn pop(con: &mut redis::Connection, key: &str) -> Result<Vec<u8>> {
        let popped: Option<(String, Vec<u8>)> = con.blpop(key, PROCESS_TIMEOUT.as_secs_f64())?;
        match popped {
            Some((_, value)) => Ok(value),
            None => bail!(
                "nothing arrived in {key} within {} s",
                PROCESS_TIMEOUT.as_secs()
            ),
        }
    }
}

/// `f64`s in memory that starts on a page boundary, like a segment's payload: the
/// array the producer sends and the `memcpy` baseline's target, so that neither the
/// way nor its baseline gains or loses from how malloc happened to place a buffer.
pub struct Aligned {
    ptr: std::ptr::NonNull<f64>,
    len: usize,
}

impl Aligned {
    fn layout(len: usize) -> std::alloc::Layout {
        let bytes = (len * 8).max(8);
        std::alloc::Layout::from_size_align(bytes, 4096).expect("at most MAX_SIZE bytes")
    }

    /// `len` zeros, every page written (so mapped) before this returns.
    pub fn zeroed(len: usize) -> Aligned {
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size (at least 8 bytes).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = std::ptr::NonNull::new(raw.cast::<f64>()) else {
            std::alloc::handle_alloc_error(layout)
        };
        let mut made = Aligned { ptr, len };
        made.fill(1.0); // zeroed pages may be mapped lazily: write each one now
        made.fill(0.0);
        made
    }

    /// A page-aligned copy of `values`.
    pub fn copy_of(values: &[f64]) -> Aligned {
        let mut made = Aligned::zeroed(values.len());
        made.copy_from_slice(values);
        made
    }
}

impl std::ops::Deref for Aligned {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        // SAFETY: `ptr` holds `len` initialized f64 (zeroed at allocation), owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for Aligned {
    fn deref_mut(&mut self) -> &mut [f64] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this very layout, freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), Self::layout(self.len)) }
    }
}

// SAFETY: an `Aligned` owns its memory like a `Vec<f64>` does; nothing in it is tied
// to a thread.
unsafe impl Send for Aligned {}
// SAFETY: shared access only reads, through `&[f64]`.
unsafe impl Sync for Aligned {}

/// Waits for every helper to end well, each at most `PROCESS_TIMEOUT`.
pub fn wait_all(helpers: Vec<Helper>) -> Result<()> {
    for helper in helpers {
        helper.wait_ok(PROCESS_TIMEOUT)?;
    }
    Ok(())
}

/// While it lives, the calling thread keeps to one CPU (Linux): `Pinned::to(Some(i))`
/// picks the `i`th CPU the thread may use, so that two spinning sides can each have a
/// core of their own; the scheduler could otherwise put both on one core, where each
/// waits for the other's time slice. Dropping it lets the thread run anywhere it could
/// before. `None`, fewer than two CPUs, or another system: nothing changes.
pub struct Pinned {
    #[cfg(target_os = "linux")]
    before: Option<nix::sched::CpuSet>,
}

impl Pinned {
    pub fn to(index: Option<usize>) -> Pinned {
        #[cfg(target_os = "linux")]
        {
            use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
            use nix::unistd::Pid;
            let pin = |index: usize| {
                let before = sched_getaffinity(Pid::from_raw(0)).ok()?;
                let cpus: Vec<usize> = (0..CpuSet::count())
                    .filter(|&c| before.is_set(c).unwrap_or(false))
                    .collect();
                let mut one = CpuSet::new();
                one.set(*cpus.get(index % cpus.len().max(2))?).ok()?;
                sched_setaffinity(Pid::from_raw(0), &one).ok()?;
                Some(before)
            };
            Pinned {
                before: index.and_then(pin),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = index;
            Pinned {}
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(set) = self.before.take() {
            let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
        }
    }
}
