//! Chapter "Arrays in shared memory": typed arrays behind a checked header, a ready
//! protocol, a parallel fill by helper processes, and NumPy on the other side.
//!
//! Run `cargo run --example arrays -- --help` for the subcommands. The helper roles
//! (`_init`, `_fill`, `_pool`) are this same program started again; the Python side is
//! in `examples/python/`.

use std::io::{Read, Write};
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use bytemuck::{Pod, Zeroable};
use shared_memory::{Shmem, ShmemConf};
use shmbook::cleanup::Unlink;
use shmbook::cli::{self, SegmentName};
use shmbook::helper::{self, Helper};
use shmbook::python::Python;
use shmbook::{names, os, wait, PROCESS_TIMEOUT};

const USAGE: cli::Usage = cli::Usage {
    program: "arrays",
    about: "typed arrays in shared memory: header, ready flag, parallel fill, NumPy",
    commands: &[
        (
            "layout",
            "an f64 array behind a 64-byte header, and alignment",
        ),
        (
            "checks",
            "foreign, truncated and mismatched segments are clear errors",
        ),
        (
            "race",
            "an opener reading before the creator finished, then the fix",
        ),
        (
            "fill [--n N] [--workers W]",
            "W helper processes fill disjoint ranges with sin(i)",
        ),
        (
            "compare [--n N] [--workers W]",
            "results through pipes (a process pool) against shared memory",
        ),
        (
            "python-reads [--naive | --close-early]",
            "NumPy reads an array this program created",
        ),
        (
            "python-writes [--n N]",
            "this program reads an array NumPy created",
        ),
        ("_init NAME [--naive]", ""),
        ("_fill NAME START END", ""),
        ("_pool START END", ""),
    ],
};

fn main() -> std::process::ExitCode {
    cli::main(&USAGE, |command, mut args| match command {
        "fill" | "compare" => {
            let n: usize = args.value_or("--n", 1_000_003)?;
            let workers: usize = args.value_or("--workers", 4)?;
            if n == 0 || n > 1 << 30 {
                return Err(args.invalid("--n must be between 1 and 1073741824").into());
            }
            if !(1..=64).contains(&workers) {
                return Err(args.invalid("--workers must be between 1 and 64").into());
            }
            args.finish()?;
            if command == "fill" {
                fill(n, workers)
            } else {
                compare(n, workers)
            }
        }
        "python-writes" => {
            let n: usize = args.value_or("--n", 1000)?;
            if !(1..=1 << 27).contains(&n) {
                return Err(args.invalid("--n must be between 1 and 134217728").into());
            }
            args.finish()?;
            python_writes(n)
        }
        "python-reads" => {
            let naive = args.switch("--naive");
            let close_early = args.switch("--close-early");
            if naive && close_early {
                return Err(args
                    .invalid("--naive and --close-early cannot be combined")
                    .into());
            }
            args.finish()?;
            python_reads(match (naive, close_early) {
                (true, _) => Some("--naive"),
                (_, true) => Some("--close-early"),
                _ => None,
            })
        }
        "_init" => {
            let SegmentName(name) = args.positional("NAME")?;
            let naive = args.switch("--naive");
            args.finish()?;
            init(&name, naive)
        }
        "_fill" => {
            let SegmentName(name) = args.positional("NAME")?;
            let start: usize = args.positional("START")?;
            let end: usize = args.positional("END")?;
            args.finish()?;
            fill_range(&name, start..end)
        }
        "_pool" => {
            let start: usize = args.positional("START")?;
            let end: usize = args.positional("END")?;
            args.finish()?;
            pool_worker(start..end)
        }
        _ => {
            args.finish()?;
            match command {
                "layout" => layout(),
                "checks" => checks(),
                "race" => race(),
                _ => unreachable!("cli::main accepts only the commands in USAGE"),
            }
        }
    })
}

// ANCHOR: header
/// "SHMARRAY" read as a little-endian u64: the first 8 bytes of every array segment.
const MAGIC: u64 = u64::from_le_bytes(*b"SHMARRAY");
/// The layout this program writes and reads. A new layout gets a new number.
const VERSION: u32 = 1;
/// The header's size; the elements start right after it.
const HEADER: usize = 64;

/// The first 64 bytes of an array segment. `#[repr(C)]`: fields in this order, at
/// these offsets, in every language that reads it (Python: `struct "<QIIQQ"`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Header {
    magic: u64,       // MAGIC; written last, with Release: it is also the ready flag
    version: u32,     // VERSION
    elem: u32,        // what the elements are: Element::CODE
    len: u64,         // how many elements
    data_offset: u64, // where they start: HEADER
    stage: u32,       // used only by `race`, to stage an unlucky timing
    _reserved: [u32; 7],
}
const _: () = assert!(std::mem::size_of::<Header>() == HEADER);

/// The element types a header can describe.
trait Element: Pod {
    const CODE: u32;
    const NAME: &'static str;
}
impl Element for f64 {
    const CODE: u32 = 1;
    const NAME: &'static str = "f64";
}
impl Element for u64 {
    const CODE: u32 = 2;
    const NAME: &'static str = "u64";
}

fn elem_name(code: u32) -> String {
    match code {
        1 => "f64".into(),
        2 => "u64".into(),
        other => format!("element type {other}"),
    }
}
// ANCHOR_END: header

/// The magic number as an atomic: the only header field read while it may change.
fn magic(shmem: &Shmem) -> &AtomicU64 {
    // SAFETY: the mapping is page-aligned and at least HEADER bytes long (callers check
    // `len()` first); the reference lives no longer than `shmem`; every process reads
    // and writes these 8 bytes only atomically once the segment is shared.
    unsafe { &*(shmem.as_ptr() as *const AtomicU64) }
}

fn stage(shmem: &Shmem) -> &AtomicU32 {
    // SAFETY: as for `magic`: offset 32 is 4-byte aligned and inside the header; both
    // processes access it only atomically.
    unsafe { &*(shmem.as_ptr().add(std::mem::offset_of!(Header, stage)) as *const AtomicU32) }
}

// ANCHOR: create
/// Creates a segment for `len` elements of `T` and writes its header, all but the
/// magic number: the array is not ready until [`publish`].
fn create_array<T: Element>(name: &str, len: usize) -> Result<Shmem> {
    let bytes = len
        .checked_mul(std::mem::size_of::<T>())
        .and_then(|b| b.checked_add(HEADER))
        .context("array too large")?;
    let shmem = ShmemConf::new()
        .size(bytes)
        .os_id(name)
        .create()
        .map_err(os::explain)
        .with_context(|| format!("creating {name} ({bytes} bytes)"))?;
    let header = Header {
        magic: 0,
        version: VERSION,
        elem: T::CODE,
        len: len as u64,
        data_offset: HEADER as u64,
        ..Zeroable::zeroed()
    };
    // Bytes 8..64 only: an opener may already be loading the magic number (bytes
    // 0..8, zero since ftruncate made the segment) atomically, so we leave it alone.
    let bytes = &bytemuck::bytes_of(&header)[8..];
    // SAFETY: the mapping holds at least HEADER bytes; no opener reads bytes 8..64
    // before it has seen the magic number, which is stored later (publish).
    unsafe {
        shmem
            .as_ptr()
            .add(8)
            .copy_from_nonoverlapping(bytes.as_ptr(), bytes.len())
    };
    Ok(shmem)
}

/// Marks the array ready. Release: every write this process made before (header and
/// elements) is visible to a process that sees the magic number with Acquire.
fn publish(shmem: &Shmem) {
    magic(shmem).store(MAGIC, Ordering::Release);
}
// ANCHOR_END: create

// ANCHOR: open
/// A checked view of the elements of an array segment.
struct Array<'a, T> {
    ptr: *mut T,
    len: usize,
    _segment: PhantomData<&'a Shmem>,
}

/// Checks the header of `shmem` and returns its elements as `T`, waiting (bounded) for
/// the creator to publish it. Anything but a ready array of `T` is an error.
fn open_array<T: Element>(shmem: &Shmem) -> Result<Array<'_, T>> {
    ensure!(
        shmem.len() >= HEADER,
        "truncated: the segment has {} bytes, less than the {HEADER}-byte header",
        shmem.len()
    );
    let mut seen = 0;
    wait::until("the creator to publish the array", PROCESS_TIMEOUT, || {
        seen = magic(shmem).load(Ordering::Acquire);
        seen != 0
    })?;
    ensure!(
        seen == MAGIC,
        "not an array segment: its first 8 bytes are {:?}, not \"SHMARRAY\"",
        String::from_utf8_lossy(&seen.to_le_bytes())
    );
    elements(shmem)
}

/// The layout checks of [`open_array`], without waiting: for the creator itself, and
/// for openers once the magic number is seen.
fn elements<T: Element>(shmem: &Shmem) -> Result<Array<'_, T>> {
    ensure!(shmem.len() >= HEADER, "truncated: smaller than the header");
    // SAFETY: a slice of the header's 64 bytes only (never of the whole segment, which
    // other processes may be writing). The creator wrote them before its Release store
    // of the magic number, which an opener saw with Acquire (or this is the creator);
    // nobody writes them after that except `stage`, and only once this copy is made.
    let raw = unsafe { std::slice::from_raw_parts(shmem.as_ptr(), HEADER) };
    let h: Header = bytemuck::pod_read_unaligned(raw);
    ensure!(
        h.version == VERSION,
        "layout version {}; this program reads version {VERSION}",
        h.version
    );
    ensure!(
        h.elem == T::CODE,
        "the array holds {}, not {}",
        elem_name(h.elem),
        T::NAME
    );
    let need = (h.len as usize)
        .checked_mul(std::mem::size_of::<T>())
        .and_then(|b| b.checked_add(h.data_offset as usize));
    ensure!(
        h.data_offset as usize >= HEADER && need.is_some_and(|n| n <= shmem.len()),
        "truncated: the header says {} {} from offset {}, but the segment has {} bytes",
        h.len,
        T::NAME,
        h.data_offset,
        shmem.len()
    );
    // The alignment is checked on the address: bytemuck::try_cast_slice would need a
    // `&[u8]` of all elements, which other processes may be writing right now.
    let ptr = shmem.as_ptr().wrapping_add(h.data_offset as usize) as *mut T;
    ensure!(
        ptr.is_aligned(),
        "elements at offset {} are not aligned for {}",
        h.data_offset,
        T::NAME
    );
    Ok(Array {
        ptr,
        len: h.len as usize,
        _segment: PhantomData,
    })
}

impl<T: Element> Array<'_, T> {
    /// All elements, shared.
    ///
    /// # Safety
    /// No process may write any element while the slice lives.
    unsafe fn as_slice(&self) -> &[T] {
        // SAFETY: ptr/len describe elements inside the live mapping (open_array); the
        // caller promises that nobody writes them meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The elements in `range`, exclusively.
    ///
    /// # Safety
    /// No other process or thread may read or write these elements while the slice
    /// lives (other ranges are fine: the slice covers only its own).
    #[allow(clippy::mut_from_ref)]
    unsafe fn range_mut(&self, range: Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: the range is inside the elements (asserted); the caller promises
        // that this process is the only one touching it while the slice lives.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }
}
// ANCHOR_END: open

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn sin_of_index(range: Range<usize>, out: &mut [f64]) {
    for (slot, i) in out.iter_mut().zip(range) {
        *slot = (i as f64).sin();
    }
}

// ANCHOR: layout
fn layout() -> Result<()> {
    let name = names::unique("arrays");
    let shmem = create_array::<f64>(&name, 5)?;
    let array = elements::<f64>(&shmem)?;
    // SAFETY: nobody else knows the segment yet.
    sin_of_index(0..5, unsafe { array.range_mut(0..5) });
    publish(&shmem);

    let view = open_array::<f64>(&shmem)?;
    println!(
        "segment: {} bytes = {HEADER}-byte header + 5 f64 of 8 bytes",
        shmem.len()
    );
    let page = os::page_size();
    println!(
        "mapping starts on a page boundary: {}; elements 8-byte aligned: {}",
        yes_no((shmem.as_ptr() as usize).is_multiple_of(page)),
        yes_no((view.ptr as usize).is_multiple_of(std::mem::align_of::<f64>()))
    );
    // SAFETY: nobody writes the array any more.
    println!("elements: {:.4?}", unsafe { view.as_slice() });
    // SAFETY: as above; these are the same bytes, read only.
    let bytes = unsafe { shmem.as_slice() };
    match bytemuck::try_cast_slice::<u8, f64>(&bytes[HEADER + 4..HEADER + 36]) {
        Ok(_) => bail!("a view 4 bytes off was accepted"),
        Err(e) => println!("viewing f64 from 4 bytes further on: {e:?}"),
    }
    Ok(())
}

// ANCHOR_END: layout

// ANCHOR: checks
fn checks() -> Result<()> {
    let text = names::unique("arrays");
    let t = ShmemConf::new()
        .size(4096)
        .os_id(&text)
        .create()
        .map_err(os::explain)?;
    // SAFETY: this process alone uses the segment.
    unsafe { t.as_ptr().copy_from(b"hello, I am text".as_ptr(), 16) };
    report("a segment holding text", &t);

    let tiny = ShmemConf::new()
        .size(16)
        .os_id(names::unique("arrays"))
        .create()
        .map_err(os::explain)?;
    report("a 16-byte segment", &tiny);

    let u = create_array::<u64>(&names::unique("arrays"), 8)?;
    publish(&u);
    report("an array of u64", &u);

    let v2 = create_array::<f64>(&names::unique("arrays"), 8)?;
    // SAFETY: this process alone uses the segment; offset 8 is the version field.
    unsafe { (v2.as_ptr().add(8) as *mut u32).write(2) };
    publish(&v2);
    report("a newer layout", &v2);

    let cut = create_array::<f64>(&names::unique("arrays"), 8)?;
    // SAFETY: this process alone uses the segment; offset 16 is the len field.
    unsafe { (cut.as_ptr().add(16) as *mut u64).write(1000) };
    publish(&cut);
    report("a header claiming 1000", &cut);
    Ok(())
}

fn report(what: &str, shmem: &Shmem) {
    match open_array::<f64>(shmem) {
        Ok(a) => println!("{what:<24} opened as {} f64", a.len),
        Err(e) => println!("{what:<24} error: {e:#}"),
    }
}
// ANCHOR_END: checks

// ANCHOR: race
const RACE_N: usize = 100_000;

fn race() -> Result<()> {
    for naive in [true, false] {
        if naive {
            println!("-- the creator publishes the header, then fills the array:");
        } else {
            println!("-- the creator fills the array, then publishes (Release):");
        }
        let name = names::unique("arrays");
        let _guard = Unlink::new(&name); // whatever happens, the name goes
        let mut args = vec![name.as_str()];
        if naive {
            args.push("--naive");
        }
        let creator = Helper::spawn("_init", &args)?;
        let shmem = wait::retry(PROCESS_TIMEOUT, || ShmemConf::new().os_id(&name).open())
            .map_err(os::explain)
            .context("waiting for the creator's segment")?;
        // Waits for the magic number (Acquire).
        let array = open_array::<f64>(&shmem)?;
        // SAFETY: nobody writes the elements while we read: the naive creator waits for
        // our `stage` signal below before it fills them; the right one filled them
        // before publishing.
        let right = unsafe { array.as_slice() }
            .iter()
            .enumerate()
            .filter(|(i, v)| v.to_bits() == (*i as f64).sin().to_bits())
            .count();
        println!(
            "opener:  header checked: {} f64; elements equal to sin(i): {right}",
            array.len
        );
        stage(&shmem).store(1, Ordering::Release); // lets the naive creator go on
        creator.wait_ok(PROCESS_TIMEOUT)?;
    }
    Ok(())
}

fn init(name: &str, naive: bool) -> Result<()> {
    let shmem = create_array::<f64>(name, RACE_N)?;
    let array = elements::<f64>(&shmem)?;
    if naive {
        println!("creator: publishing the header, then filling {RACE_N} elements");
        // Too early: the elements are still zeros.
        publish(&shmem);
        // Staging: wait until the opener has looked, so that every run shows the
        // unlucky timing. Without this wait the outcome would vary from run to run.
        wait::until("the opener to look", PROCESS_TIMEOUT, || {
            stage(&shmem).load(Ordering::Acquire) == 1
        })?;
        // SAFETY: the opener has finished reading (it said so through `stage`).
        sin_of_index(0..RACE_N, unsafe { array.range_mut(0..RACE_N) });
        println!("creator: filled");
    } else {
        println!("creator: filling {RACE_N} elements, then publishing the header");
        // SAFETY: nothing is published yet, so no opener reads the elements.
        sin_of_index(0..RACE_N, unsafe { array.range_mut(0..RACE_N) });
        publish(&shmem);
    }
    // The opener maps the segment by now; waiting for it to finish keeps the name
    // until then (our drop removes it).
    wait::until("the opener to finish", PROCESS_TIMEOUT, || {
        stage(&shmem).load(Ordering::Acquire) == 1
    })
}
// ANCHOR_END: race

// ANCHOR: fill
/// The k-th of `workers` ranges of 0..n: sizes differ by at most one, none is lost.
fn share(n: usize, workers: usize, k: usize) -> Range<usize> {
    n * k / workers..n * (k + 1) / workers
}

fn fill(n: usize, workers: usize) -> Result<()> {
    let name = names::unique("arrays");
    let shmem = create_array::<f64>(&name, n)?;
    publish(&shmem); // the header is ready; the helpers write the elements
    println!("{workers} helpers fill {n} elements with sin(i):");
    let mut helpers = Vec::new();
    for k in 0..workers {
        let r = share(n, workers, k);
        println!(
            "  helper {}: {}..{} ({} elements)",
            k + 1,
            r.start,
            r.end,
            r.len()
        );
        let (s, e) = (r.start.to_string(), r.end.to_string());
        helpers.push(Helper::spawn("_fill", &[&name, &s, &e])?);
    }
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    let array = open_array::<f64>(&shmem)?;
    // SAFETY: every helper has exited; nobody writes any more.
    let wrong = unsafe { array.as_slice() }
        .iter()
        .enumerate()
        .filter(|(i, v)| v.to_bits() != (*i as f64).sin().to_bits())
        .count();
    println!("parent: checked all {n} elements; wrong ones: {wrong}");
    ensure!(wrong == 0, "{wrong} elements are not sin(i)");
    Ok(())
}

fn fill_range(name: &str, range: Range<usize>) -> Result<()> {
    let shmem = ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))?;
    let array = open_array::<f64>(&shmem)?;
    ensure!(range.end <= array.len, "range {range:?} is past the array");
    // SAFETY: the parent gives every helper a disjoint range and reads nothing until
    // all helpers have exited, so this slice is the only access to its elements.
    sin_of_index(range.clone(), unsafe { array.range_mut(range) });
    Ok(())
}
// ANCHOR_END: fill

// ANCHOR: compare
fn compare(n: usize, workers: usize) -> Result<()> {
    // 1. Like ProcessPoolExecutor.map: each worker sends its results back, serialized.
    let (start, cpu0) = (Instant::now(), cpu_times()?);
    let mut results = Vec::with_capacity(n);
    let mut readers = Vec::new();
    let mut helpers = Vec::new();
    for k in 0..workers {
        let r = share(n, workers, k);
        let (s, e) = (r.start.to_string(), r.end.to_string());
        let mut h = Helper::spawn_captured("_pool", &[&s, &e])?;
        let mut out = h.take_stdout().context("the worker's output pipe")?;
        readers.push(std::thread::spawn(move || {
            let mut bytes = Vec::new();
            out.read_to_end(&mut bytes).map(|_| bytes)
        }));
        helpers.push(h);
    }
    let mut piped = 0;
    for reader in readers {
        let bytes = reader
            .join()
            .map_err(|_| anyhow::anyhow!("a reader thread panicked"))?
            .context("reading a worker's results")?;
        piped += bytes.len();
        // Deserialize: 8 bytes at a time back into f64.
        results.extend(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunks_exact gives 8 bytes"))),
        );
    }
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    let (pool_time, cpu1) = (start.elapsed(), cpu_times()?);

    // 2. Shared memory: the workers write their results where the parent reads them.
    let start = Instant::now();
    let name = names::unique("arrays");
    let shmem = create_array::<f64>(&name, n)?;
    publish(&shmem);
    let mut helpers = Vec::new();
    for k in 0..workers {
        let r = share(n, workers, k);
        let (s, e) = (r.start.to_string(), r.end.to_string());
        helpers.push(Helper::spawn("_fill", &[&name, &s, &e])?);
    }
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    let (shm_time, cpu2) = (start.elapsed(), cpu_times()?);

    let array = open_array::<f64>(&shmem)?;
    // SAFETY: every worker has exited; nobody writes any more.
    let same = unsafe { array.as_slice() } == results.as_slice();
    println!("{n} f64 by {workers} worker processes:");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  through pipes:    {piped:>10} bytes copied back; {:.1} ms, CPU: parent {:.1} ms, workers {:.1} ms",
        ms(pool_time),
        ms(cpu1.0 - cpu0.0),
        ms(cpu1.1 - cpu0.1)
    );
    println!(
        "  in shared memory: {:>10} bytes copied back; {:.1} ms, CPU: parent {:.1} ms, workers {:.1} ms",
        0,
        ms(shm_time),
        ms(cpu2.0 - cpu1.0),
        ms(cpu2.1 - cpu1.1)
    );
    println!("  same results: {}", yes_no(same));
    Ok(())
}

/// CPU time (user + system) used so far by this process, and by its children that
/// have been waited for (POSIX getrusage).
fn cpu_times() -> Result<(Duration, Duration)> {
    let usage = |who| -> Result<Duration> {
        // SAFETY: all-zero bytes are a valid rusage (plain integers).
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `r` is a writable rusage; `who` is RUSAGE_SELF or RUSAGE_CHILDREN.
        if unsafe { libc::getrusage(who, &mut r) } != 0 {
            bail!("getrusage: {}", std::io::Error::last_os_error());
        }
        let t = |tv: libc::timeval| {
            Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
        };
        Ok(t(r.ru_utime) + t(r.ru_stime))
    };
    Ok((usage(libc::RUSAGE_SELF)?, usage(libc::RUSAGE_CHILDREN)?))
}

fn pool_worker(range: Range<usize>) -> Result<()> {
    let mut out = vec![0.0f64; range.len()];
    sin_of_index(range, &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytemuck::cast_slice(&out)) // serialize: the f64s' bytes
        .and_then(|_| stdout.flush())
        .context("sending results to the parent")
}
// ANCHOR_END: compare

// ANCHOR: python_reads
/// `mode`: the script's `--naive` or `--close-early`, or neither.
fn python_reads(mode: Option<&str>) -> Result<()> {
    let n = 1000;
    let name = names::unique("arrays");
    let _guard = Unlink::new(&name); // in case Python's tracker does not remove it
    let shmem = create_array::<f64>(&name, n)?;
    let array = elements::<f64>(&shmem)?;
    // SAFETY: nothing is published yet; no other process has the segment.
    sin_of_index(0..n, unsafe { array.range_mut(0..n) });
    publish(&shmem);
    println!("rust:   created the segment: {n} f64 after the header; starting python3");
    let mut args = vec![name.as_str()];
    args.extend(mode);
    let script = "read_array.py";
    let python = Python::spawn(script, &args)?.finish(PROCESS_TIMEOUT)?;
    if mode == Some("--close-early") {
        // The script is meant to crash: show how it ended instead of failing.
        python.print();
        println!("rust:   python3 ended: {}", helper::describe(python.status));
    } else {
        python.ok(script)?.print();
    }
    println!(
        "rust:   python3 has exited; the segment still exists: {}",
        yes_no(os::shm_exists(&name)?)
    );
    Ok(())
}
// ANCHOR_END: python_reads

// ANCHOR: python_writes
fn python_writes(n: usize) -> Result<()> {
    let name = names::unique("arrays");
    // Removes the segment even if python3 is killed.
    let _guard = Unlink::new(&name);
    // Python adds the leading slash itself: it gets the name without it.
    let bare = name.trim_start_matches('/').to_string();
    let script = "make_array.py";
    let mut py = Python::spawn(script, &[&bare, &n.to_string()])?;
    println!("python: {}", py.read_line(PROCESS_TIMEOUT)?);

    let shmem = ShmemConf::new()
        .os_id(&name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))?;
    let array = open_array::<u64>(&shmem)?;
    // SAFETY: Python wrote the elements before it printed its line, and it writes
    // nothing more.
    let squares = unsafe { array.as_slice() }
        .iter()
        .enumerate()
        .all(|(i, &v)| v == (i as u64) * (i as u64));
    println!(
        "rust:   opened it: {} bytes, {} u64; every element is i*i: {}",
        shmem.len(),
        array.len,
        yes_no(squares)
    );
    drop(shmem);
    py.send_line("done")?;
    py.finish(PROCESS_TIMEOUT)?.ok(script)?.print();
    println!(
        "rust:   the segment exists: {}",
        yes_no(os::shm_exists(&name)?)
    );
    Ok(())
}
// ANCHOR_END: python_writes
