//! The checks: one function per exercise, and the worker roles they start.
//!
//! A check runs in a process of its own (`grade _check NAME RUN`) and prints its
//! verdict as one line (see `report`). Checks that need several processes start this
//! program again with a worker role (`_open_race`, `_count`, ...) through
//! `shmbook::helper::Helper`, wait for them with a time limit, and read what they
//! print: `OK ...` or `ERR message`. Every segment a check makes is named
//! `/shmbook-h<RUN>-<TAG>`, so the grader can remove them all afterwards.

use std::io::Write;
use std::mem::size_of;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use shared_memory::{Shmem, ShmemConf};
use shmbook::helper::{Finished, Helper};

use crate::Exercise;

/// Every exercise, in the order of the book.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "segments_open",
        chapter: "segments",
        check: segments_open,
        hang_hint: "every wait must be bounded: give up on a segment that never gets sized",
    },
    Exercise {
        name: "segments_sweep",
        chapter: "segments",
        check: segments_sweep,
        hang_hint: "list /dev/shm once; kill(pid, 0) answers at once",
    },
    Exercise {
        name: "sizing_pages",
        chapter: "sizing",
        check: sizing_pages,
        hang_hint: "pages() is arithmetic: no loop is needed",
    },
    Exercise {
        name: "sizing_reserved",
        chapter: "sizing",
        check: sizing_reserved,
        hang_hint: "one stat of /dev/shm/NAME answers the question",
    },
    Exercise {
        name: "arrays_header",
        chapter: "arrays",
        check: arrays_header,
        hang_hint: "a count taken on trust can make the sum loop for a very long time: check it first",
    },
    Exercise {
        name: "arrays_ready",
        chapter: "arrays",
        check: arrays_ready,
        hang_hint: "bound the wait: look at the clock in the loop and give up after the timeout",
    },
    Exercise {
        name: "semaphores_counter",
        chapter: "semaphores",
        check: semaphores_counter,
        hang_hint: "a guard still alive when you lock again deadlocks: let it drop before the next lock",
    },
    Exercise {
        name: "semaphores_counting",
        chapter: "semaphores",
        check: semaphores_counting,
        hang_hint: "release must set the Event, and acquire must wait with the time that is left, not forever",
    },
    Exercise {
        name: "alternatives_frames",
        chapter: "alternatives",
        check: alternatives_frames,
        hang_hint: "read_frame must return None when read() returns 0 at the start of a frame",
    },
    Exercise {
        name: "alternatives_ring",
        chapter: "alternatives",
        check: alternatives_ring,
        hang_hint: "a value pushed must become visible: store head after writing the slot, and load head and tail fresh on every call",
    },
];

/// Checks of the grader itself (`--self-test`, run by `tests/homework.rs`): each leaves
/// a segment behind, starts a worker that makes one too, and then panics, crashes or
/// hangs. The grader must report each, end the worker, and remove both segments.
pub const SELF_TESTS: &[Exercise] = &[
    Exercise {
        name: "selftest_panic",
        chapter: "grader",
        check: |ctx| misbehave(ctx, "panic"),
        hang_hint: "",
    },
    Exercise {
        name: "selftest_crash",
        chapter: "grader",
        check: |ctx| misbehave(ctx, "crash"),
        hang_hint: "",
    },
    Exercise {
        name: "selftest_hang",
        chapter: "grader",
        check: |ctx| misbehave(ctx, "hang"),
        hang_hint: "(a hang, on purpose)",
    },
];

/// The body of the self-tests: a leftover, a worker holding another, then `how`.
fn misbehave(ctx: &Ctx, how: &str) -> Verdict {
    segment(&ctx.name("left"), 4096)?.set_owner(false);
    let worker_name = ctx.name("worker");
    let worker = Helper::spawn_captured("_hold", &[&worker_name])?;
    shmbook::wait::until("the worker's segment", WORKER_TIMEOUT, || {
        shmbook::os::shm_exists(&worker_name).unwrap_or(false)
    })?;
    std::mem::forget(worker); // no kill on drop: the grader must end it
    match how {
        "panic" => panic!("a panic, on purpose"),
        "crash" => std::process::abort(), // SIGABRT: no unwinding, no destructors
        _ => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
    }
}

/// Worker: `_hold NAME` — make a segment and hold it until killed.
fn hold(args: &[String]) -> anyhow::Result<String> {
    let [name] = args else { bail!("needs NAME") };
    let _shm = segment(name, 4096)?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A check's result: pass, or a failure with a message and maybe a hint.
pub type Verdict = Result<(), Failure>;

/// Why a check failed.
pub struct Failure {
    message: String,
    hint: Option<&'static str>,
    skip: bool,
}

fn fail(message: impl Into<String>, hint: &'static str) -> Failure {
    Failure {
        message: message.into(),
        hint: (!hint.is_empty()).then_some(hint),
        skip: false,
    }
}

/// The exercise cannot be checked on this system.
#[allow(dead_code)]
fn skip(message: &str) -> Failure {
    Failure {
        message: message.into(),
        hint: None,
        skip: true,
    }
}

impl From<anyhow::Error> for Failure {
    /// A failure of the check's own machinery (not of the student's code).
    fn from(e: anyhow::Error) -> Self {
        fail(format!("the check could not run: {e:#}"), "")
    }
}

/// What a check knows: the run's name prefix.
pub struct Ctx {
    run: String,
}

impl Ctx {
    /// A segment name of this run: `/shmbook-h<RUN>-<tag>`.
    fn name(&self, tag: &str) -> String {
        format!("{}{}-{tag}", RUN_PREFIX, self.run)
    }
}

/// Every name a grader run makes starts with this and the grader's process id.
const RUN_PREFIX: &str = "/shmbook-h";

/// How long a check waits for one of its workers.
const WORKER_TIMEOUT: Duration = Duration::from_secs(20);

/// `grade _check NAME RUN`: runs one check and prints its verdict.
pub fn run_check(args: &[String]) -> ExitCode {
    let [name, run] = args else {
        eprintln!("grade _check: needs NAME RUN");
        return ExitCode::from(2);
    };
    let Some(exercise) = EXERCISES.iter().chain(SELF_TESTS).find(|e| e.name == name) else {
        eprintln!("grade _check: no exercise '{name}'");
        return ExitCode::from(2);
    };
    let ctx = Ctx { run: run.clone() };
    let line = match (exercise.check)(&ctx) {
        Ok(()) => "PASS".to_string(),
        Err(f) if f.skip => format!("SKIP\t{}", one_line(&f.message)),
        Err(f) => format!(
            "FAIL\t{}\t{}",
            one_line(&f.message),
            f.hint.unwrap_or_default()
        ),
    };
    println!("{line}");
    ExitCode::SUCCESS
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\t'], " ")
}

/// Runs the student's code, turning a panic into an error message.
fn student<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string())
    })
}

/// Creates a segment for a check; it is removed when the returned `Shmem` drops (and
/// by the grader's sweep if this process dies first).
fn segment(name: &str, size: usize) -> anyhow::Result<Shmem> {
    ShmemConf::new()
        .size(size)
        .os_id(name)
        .create()
        .map_err(shmbook::os::explain)
        .with_context(|| format!("creating {name}"))
}

fn open(name: &str) -> anyhow::Result<Shmem> {
    ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(shmbook::os::explain)
        .with_context(|| format!("opening {name}"))
}

/// A `T` at the start of a segment at least `size_of::<T>()` long.
///
/// # Safety
/// `T` must be a type for which all zeros and every value other processes write are
/// valid (atomics and plain integers), and the reference must not outlive `shm`.
unsafe fn view<T>(shm: &Shmem) -> &T {
    assert!(shm.len() >= size_of::<T>());
    // SAFETY: the mapping is page-aligned and long enough (asserted); the caller
    // guarantees the rest.
    unsafe { &*shm.as_ptr().cast::<T>() }
}

/// A worker's standard output: `OK ...` gives the rest, `ERR why` an error.
fn worker_result(f: &Finished) -> Result<String, String> {
    let last = f.stdout.lines().last().unwrap_or("").to_string();
    if let Some(rest) = last.strip_prefix("OK") {
        return Ok(rest.trim().to_string());
    }
    if let Some(why) = last.strip_prefix("ERR ") {
        return Err(why.to_string());
    }
    Err(format!(
        "a worker process {}",
        match f.status.code() {
            Some(101) => "panicked".to_string(),
            _ => format!(
                "ended without a result ({})",
                shmbook::helper::describe(f.status)
            ),
        }
    ))
}

/// Starts `n` workers with the same role and arguments, then waits for all of them.
fn workers(n: usize, role: &str, args: &[&str]) -> anyhow::Result<Vec<Result<String, String>>> {
    let started: Vec<Helper> = (0..n)
        .map(|_| Helper::spawn_captured(role, args))
        .collect::<anyhow::Result<_>>()?;
    let mut results = Vec::new();
    for h in started {
        results.push(match h.wait(WORKER_TIMEOUT) {
            Ok(f) => worker_result(&f),
            Err(e) => Err(format!("{e:#}")),
        });
    }
    Ok(results)
}

// ---------------------------------------------------------------- segments

fn segments_open(ctx: &Ctx) -> Verdict {
    let name = ctx.name("open");
    let results = workers(4, "_open_race", &[&name, "4"])?;
    let mut owners = 0;
    for r in &results {
        match r {
            Ok(role) if role == "owner" => owners += 1,
            Ok(_) => {}
            Err(why) if why.contains("EINVAL") => return Err(fail(
                format!("a process failed: {why}"),
                "open() fails with EINVAL while the creator has made the name but not sized it yet: retry for a bounded time",
            )),
            Err(why) if why.contains("ENOENT") => return Err(fail(
                format!("a process failed: {why}"),
                "between a failed create() and open(), the segment can vanish or not be there yet: retry both in a bounded loop",
            )),
            Err(why) => return Err(fail(format!("a process failed: {why}"), "")),
        }
    }
    if owners == 0 {
        return Err(fail(
            "four processes started, none owns the segment",
            "create() makes the owner: call it first, and open() only when it fails with MappingIdExists",
        ));
    }
    if owners > 1 {
        return Err(fail(
            format!("{owners} of four processes own the segment"),
            "only the process whose create() succeeded owns the segment; an opener must not call set_owner(true)",
        ));
    }
    if shmbook::os::shm_exists(&name).unwrap_or(false) {
        return Err(fail(
            format!("{name} is still there after all four processes ended"),
            "the owner's Shmem removes the segment when it drops: don't give ownership away (set_owner(false)) or forget the Shmem",
        ));
    }
    // A slow creator: the name exists for a while before it has a size.
    let name = ctx.name("slow");
    let _guard = shmbook::cleanup::Unlink::new(&name);
    let fd = create_unsized(&name)?;
    let opener = Helper::spawn_captured("_open_race", &[&name, "1"])?;
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: `fd` is the descriptor create_unsized returned; it is closed right after.
    let sized = unsafe { libc::ftruncate(fd, 4096) == 0 };
    // SAFETY: as above; nothing uses `fd` afterwards.
    unsafe { libc::close(fd) };
    if !sized {
        return Err(anyhow!("sizing {name}: {}", std::io::Error::last_os_error()).into());
    }
    match worker_result(&opener.wait(WORKER_TIMEOUT)?) {
        Ok(role) if role == "opener" => Ok(()),
        Ok(role) => Err(fail(
            format!("a segment another process created (and sized 300 ms later) was reported as {role}"),
            "only the process whose create() succeeded owns the segment",
        )),
        Err(why) => Err(fail(
            format!("opening a segment whose creator sizes it 300 ms late failed: {why}"),
            "open() fails with EINVAL while the creator has made the name but not sized it yet: retry for a bounded time",
        )),
    }
}

/// Makes the name `name` as a creator does before it sets the size (POSIX `shm_open`
/// with `O_CREAT | O_EXCL`, mode 0600) and returns the descriptor.
fn create_unsized(name: &str) -> anyhow::Result<libc::c_int> {
    let c = std::ffi::CString::new(name)?;
    // SAFETY: `c` is a NUL-terminated string that lives across the call.
    let fd = unsafe {
        libc::shm_open(
            c.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            0o600,
        )
    };
    if fd < 0 {
        bail!("creating {name}: {}", std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// Worker: `_open_race NAME N` — create or open, count in, wait for all N, report.
fn open_race(args: &[String]) -> anyhow::Result<String> {
    let [name, n] = args else {
        bail!("needs NAME N")
    };
    let n: u64 = n.parse()?;
    let shm = homework::segments_open::create_or_open(name, 4096)?;
    // SAFETY: the first 8 bytes of the segment are an AtomicU64 in every worker; a new
    // segment is all zeros; the reference does not outlive `shm`.
    let arrived: &AtomicU64 = unsafe { view(&shm) };
    arrived.fetch_add(1, Ordering::SeqCst);
    // Everyone stays until everyone has arrived: the owner must not remove the segment
    // while others still want to open it.
    shmbook::wait::until(
        "all workers to open the segment",
        Duration::from_secs(10),
        || arrived.load(Ordering::SeqCst) >= n,
    )?;
    Ok(if shm.is_owner() { "owner" } else { "opener" }.to_string())
}

fn segments_sweep(ctx: &Ctx) -> Verdict {
    if !cfg!(target_os = "linux") {
        return Err(skip("sweep lists /dev/shm, which only Linux has"));
    }
    let prefix = ctx.name("sw");
    let dead = dead_pid()?;
    let live = std::process::id();
    let names = [
        format!("{prefix}-{dead}-0"),
        format!("{prefix}-{dead}-17"),
        format!("{prefix}-{live}-0"),
        format!("{prefix}x-{dead}-0"),
        format!("{prefix}-{dead}-x"),
        format!("{prefix}-{dead}"),
    ];
    for n in &names {
        // Left behind on purpose, as a crashed program would: the grader's sweep
        // removes whatever the student's code does not.
        segment(n, 64)?.set_owner(false);
    }
    let [dead0, dead17, live0, other, odd, short] = &names;
    let removed = match student(|| homework::segments_sweep::sweep(&prefix)) {
        Err(panic) => return Err(fail(format!("sweep panicked: {panic}"), "")),
        Ok(Err(e)) => return Err(fail(format!("sweep failed: {e:#}"), "")),
        Ok(Ok(r)) => r,
    };
    let exists = |n: &str| shmbook::os::shm_exists(n).unwrap_or(true);
    if !exists(live0) {
        return Err(fail(
            format!("removed {live0}, whose process is running"),
            "kill(pid, 0) == 0 (or failing with EPERM) means the process runs: keep its segments",
        ));
    }
    if !exists(other) {
        return Err(fail(
            format!("removed {other}, which is not {prefix}-PID-N"),
            "match the prefix followed by '-': /app-PID-N and /appx-PID-N belong to different programs",
        ));
    }
    if !exists(odd) || !exists(short) {
        return Err(fail(
            format!("removed {odd} or {short}, which are not {prefix}-PID-N"),
            "both PID and N must be decimal numbers; leave names you do not understand alone",
        ));
    }
    if exists(dead0) || exists(dead17) {
        return Err(fail(
            format!("left {dead0} or {dead17}, although process {dead} is gone"),
            "take the PID from the name and ask kill(pid, 0): failing with ESRCH means the process is gone",
        ));
    }
    let mut expected = vec![dead0.clone(), dead17.clone()];
    expected.sort();
    if removed != expected {
        return Err(fail(
            format!("returned {removed:?}, expected {expected:?}"),
            "return the names you removed, with their leading '/', sorted",
        ));
    }
    Ok(())
}

/// The process id of a process that has just ended.
fn dead_pid() -> anyhow::Result<u32> {
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("_exit")
        .spawn()
        .context("starting a short-lived process")?;
    let pid = child.id();
    child.wait()?;
    Ok(pid)
}

// ---------------------------------------------------------------- sizing

fn sizing_pages(ctx: &Ctx) -> Verdict {
    use homework::sizing_pages::pages;
    let ps = shmbook::os::page_size();
    let cases = [
        (0, 0),
        (1, 1),
        (ps - 1, 1),
        (ps, 1),
        (ps + 1, 2),
        (10 * ps, 10),
        (usize::MAX, usize::MAX / ps + 1),
    ];
    for (len, want) in cases {
        let got = match student(|| pages(len)) {
            Ok(g) => g,
            Err(panic) if panic.contains("overflow") => {
                return Err(fail(
                    format!("pages({len}) panicked: {panic}"),
                    "len + page - 1 overflows near usize::MAX: use len.div_ceil(page)",
                ))
            }
            Err(panic) => return Err(fail(format!("pages({len}) panicked: {panic}"), "")),
        };
        if got == want {
            continue;
        }
        let hint = if got == len / ps {
            "round up: a partial page still takes a whole page"
        } else if ps != 4096 && got == len.div_ceil(4096) {
            "ask the system for its page size (sysconf(_SC_PAGESIZE)); it is not 4096 here"
        } else {
            ""
        };
        return Err(fail(
            format!("pages({len}) is {got}, expected {want} with {ps}-byte pages"),
            hint,
        ));
    }
    // The promise behind the number: the last byte of the last page can be touched.
    let name = ctx.name("pages");
    let len = ps + 1;
    let _shm = segment(&name, len)?;
    let last = pages(len) * ps - 1;
    let h = Helper::spawn_captured("_touch", &[&name, &last.to_string()])?;
    let f = h.wait(WORKER_TIMEOUT)?;
    if let Err(why) = worker_result(&f) {
        return Err(fail(
            format!("touching byte {last} of a {len}-byte segment failed: {why}"),
            "",
        ));
    }
    Ok(())
}

/// Worker: `_touch NAME OFFSET` — write one byte of a segment at OFFSET.
fn touch(args: &[String]) -> anyhow::Result<String> {
    let [name, offset] = args else {
        bail!("needs NAME OFFSET")
    };
    let offset: usize = offset.parse()?;
    let shm = open(name)?;
    // SAFETY: the mapping spans whole pages; the check passes an offset within the last
    // page of the segment (the point of the exercise). A wrong offset faults, which the
    // check reports.
    unsafe { shm.as_ptr().add(offset).write_volatile(1) };
    Ok(String::new())
}

fn sizing_reserved(ctx: &Ctx) -> Verdict {
    if !cfg!(target_os = "linux") {
        return Err(skip("reserved_bytes reads /dev/shm, which only Linux has"));
    }
    use homework::sizing_reserved::reserved_bytes;
    let ps = shmbook::os::page_size();
    let name = ctx.name("rsv");
    let shm = segment(&name, 16 * ps)?;
    let ask = |when: &str| match student(|| reserved_bytes(&name)) {
        Err(panic) => Err(fail(format!("reserved_bytes panicked {when}: {panic}"), "")),
        Ok(Err(e)) => Err(fail(format!("reserved_bytes failed {when}: {e:#}"), "")),
        Ok(Ok(n)) => Ok(n),
    };
    // What the file system says, asked the way the exercise means; with the default
    // tmpfs (no huge pages) that is 0 bytes now and 3 pages after writing 3 pages.
    let allocated = || -> anyhow::Result<u64> {
        use std::os::unix::fs::MetadataExt;
        Ok(std::fs::metadata(format!("/dev/shm{name}"))?.blocks() * 512)
    };
    let wrong = |got: u64, want: u64, when: &str| {
        let hint = if got == (16 * ps) as u64 {
            "that is the size the segment was created with (st_size); tmpfs reserves a page only when it is first written: count st_blocks × 512"
        } else if want > 0
            && (got * 512 == want || got == want / ps as u64 || got == want / 512 * ps as u64)
        {
            "st_blocks counts 512-byte units (not pages): multiply it by 512"
        } else {
            ""
        };
        fail(
            format!("{when}: reported {got} bytes, expected {want}"),
            hint,
        )
    };
    let fresh = ask("on a fresh segment")?;
    let want = allocated()?;
    if fresh != want {
        return Err(wrong(
            fresh,
            want,
            "a fresh 16-page segment nobody wrote to",
        ));
    }
    for page in [0, 5, 9] {
        // SAFETY: page 9 < 16 lies inside the 16-page mapping `shm`.
        unsafe { shm.as_ptr().add(page * ps).write_volatile(1) };
    }
    let written = ask("after writing 3 pages")?;
    let want = allocated()?;
    if written != want {
        return Err(wrong(written, want, "after writing to 3 of 16 pages"));
    }
    Ok(())
}

// ---------------------------------------------------------------- arrays

/// One segment for `sum`: what it is, its length, its header (none: leave the bytes
/// zero), how many elements to write, and the expected sum (none: an error).
struct HeaderCase {
    what: &'static str,
    len: usize,
    header: Option<homework::arrays_header::Header>,
    written: u64,
    want: Option<u64>,
    hint: &'static str,
}

fn arrays_header(ctx: &Ctx) -> Verdict {
    use homework::arrays_header::{sum, Header, MAGIC, VERSION};
    let good = Header {
        magic: MAGIC,
        version: VERSION,
        elem_size: 8,
        count: 0,
    };
    let hsize = size_of::<Header>();
    let sum_of = |n: u64| (0..n).map(|i| i * 3).sum::<u64>();
    let case = |what, len, header, written, want, hint| HeaderCase {
        what,
        len,
        header,
        written,
        want,
        hint,
    };
    let cases = [
        case("a valid array of 1000", hsize + 8 * 1000, Some(Header { count: 1000, ..good }), 1000, Some(sum_of(1000)), ""),
        case("a valid array that fills its segment exactly", hsize + 8 * 500, Some(Header { count: 500, ..good }), 500, Some(sum_of(500)), ""),
        case("an empty valid array", hsize, Some(Header { count: 0, ..good }), 0, Some(0), ""),
        case("a wrong magic number", hsize + 80, Some(Header { magic: 7, count: 10, ..good }), 10, None, "compare magic with MAGIC before anything else: it says whether the bytes are an array at all"),
        case("version 2", hsize + 80, Some(Header { version: 2, count: 10, ..good }), 10, None, "refuse a version you do not know: its layout may differ"),
        case("4-byte elements", hsize + 80, Some(Header { elem_size: 4, count: 10, ..good }), 10, None, "check elem_size == size_of::<u64>()"),
        case("a segment shorter than a header", 8, None, 0, None, "check len() >= size_of::<Header>() before reading the header"),
        case("a count one more than the segment holds", hsize + 8 * 500, Some(Header { count: 501, ..good }), 500, None, "count must fit in len() - size_of::<Header>(); the rest of the last page reads as zeros, so reading there does not crash, and is still wrong"),
        case("a count far beyond the segment", hsize + 80, Some(Header { count: u64::MAX / 4, ..good }), 10, None, "never take count on trust: compare it with the room in the segment (and mind overflow in count * 8) before building a slice"),
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let HeaderCase {
            what,
            len,
            header,
            written,
            want,
            hint,
        } = c;
        let name = ctx.name(&format!("hdr{i}"));
        let shm = segment(&name, len)?;
        if let Some(h) = header {
            // SAFETY: the segment holds the header (len >= hsize for these cases) and
            // `written` elements after it (len = hsize + 8 × at least `written`); the
            // mapping is page-aligned, so both are aligned.
            unsafe {
                shm.as_ptr().cast::<Header>().write(h);
                let data = shm.as_ptr().add(hsize).cast::<u64>();
                for k in 0..written {
                    data.add(k as usize).write(k * 3);
                }
            }
        }
        let got = student(|| sum(&name));
        match (got, want) {
            (Err(panic), _) => {
                let hint = if want.is_none() { hint } else { "" };
                return Err(fail(format!("sum panicked on {what}: {panic}"), hint));
            }
            (Ok(Ok(s)), Some(w)) if s == w => {}
            (Ok(Ok(s)), Some(w)) => {
                return Err(fail(format!("sum of {what} is {s}, expected {w}"), ""))
            }
            (Ok(Err(e)), Some(_)) => return Err(fail(format!("sum refused {what}: {e:#}"), "")),
            (Ok(Ok(s)), None) => {
                return Err(fail(
                    format!("sum accepted {what} (and returned {s})"),
                    hint,
                ))
            }
            (Ok(Err(_)), None) => {}
        }
        drop(shm);
    }
    Ok(())
}

fn arrays_ready(ctx: &Ctx) -> Verdict {
    use homework::arrays_ready::{publish, read, Board, CAPACITY};
    // 1. The reader starts first and must wait for the writer.
    let name = ctx.name("ready");
    let _shm = segment(&name, size_of::<Board>())?;
    let reader = Helper::spawn_captured("_ready_read", &[&name, "10000"])?;
    std::thread::sleep(Duration::from_millis(150));
    let writer = Helper::spawn_captured("_ready_write", &[&name, "1000"])?;
    let wrote = worker_result(&writer.wait(WORKER_TIMEOUT)?);
    let got = worker_result(&reader.wait(WORKER_TIMEOUT)?);
    if let Err(why) = wrote {
        return Err(fail(format!("the writer failed: {why}"), ""));
    }
    let want = format!("1000 {}", expected_sum(1000));
    match got {
        Err(why) => return Err(fail(format!("the reader failed: {why}"), "")),
        Ok(g) if g == "0 0" => return Err(fail(
            "the reader returned nothing: it did not wait for the writer",
            "loop until ready.load(Ordering::Acquire) == 1 before reading len and values",
        )),
        Ok(g) if g != want => return Err(fail(
            format!("the reader got {g} (count, sum); expected {want}"),
            "store the values and len before the flag (Release), and load the flag (Acquire) before them",
        )),
        Ok(_) => {}
    }
    // 2. Nobody publishes: the reader must give up.
    let name = ctx.name("idle");
    let _idle = segment(&name, size_of::<Board>())?;
    let lonely = Helper::spawn_captured("_ready_read", &[&name, "200"])?;
    match lonely.wait(Duration::from_secs(5)) {
        Err(_) => return Err(fail(
            "read(timeout = 200 ms) on a board nobody publishes was still waiting after 5 s",
            "bound the wait: look at the clock in the loop and return an error after the timeout",
        )),
        Ok(f) => {
            if let Ok(g) = worker_result(&f) {
                return Err(fail(
                    format!("read on a board nobody published returned {g} (count, sum) instead of an error"),
                    "wait for the ready flag; a board that never becomes ready is an error after the timeout",
                ));
            }
        }
    }
    // 3. Too many values: an error, and nothing published.
    let name = ctx.name("full");
    let shm = segment(&name, size_of::<Board>())?;
    // SAFETY: Board is atomics only; all zeros is a valid empty board; `board` does not
    // outlive `shm`.
    let board: &Board = unsafe { view(&shm) };
    let too_many = vec![1u64; CAPACITY + 1];
    match student(|| publish(board, &too_many)) {
        Err(panic) => {
            return Err(fail(
                format!("publish of {} values panicked: {panic}", CAPACITY + 1),
                "check values.len() against CAPACITY first and return an error",
            ))
        }
        Ok(Ok(())) => {
            return Err(fail(
                format!(
                    "publish accepted {} values for a board of {CAPACITY}",
                    CAPACITY + 1
                ),
                "check values.len() against CAPACITY first and return an error",
            ))
        }
        Ok(Err(_)) if board.ready.load(Ordering::Acquire) != 0 => {
            return Err(fail(
                "publish refused too many values but raised the ready flag anyway",
                "check the length before writing anything",
            ))
        }
        Ok(Err(_)) => {}
    }
    let _ = read; // used by the `_ready_read` worker
    Ok(())
}

fn expected_sum(n: u64) -> u64 {
    (0..n).map(|i| i * 7 + 1).sum()
}

/// Worker: `_ready_read NAME TIMEOUT_MS` — read the board, print count and sum.
fn ready_read(args: &[String]) -> anyhow::Result<String> {
    let [name, ms] = args else {
        bail!("needs NAME TIMEOUT_MS")
    };
    let shm = open(name)?;
    // SAFETY: see `view`; the checker made the segment Board-sized and zeroed.
    let board = unsafe { view(&shm) };
    let values = homework::arrays_ready::read(board, Duration::from_millis(ms.parse()?))?;
    Ok(format!("{} {}", values.len(), values.iter().sum::<u64>()))
}

/// Worker: `_ready_write NAME N` — publish N values.
fn ready_write(args: &[String]) -> anyhow::Result<String> {
    let [name, n] = args else {
        bail!("needs NAME N")
    };
    let n: u64 = n.parse()?;
    let shm = open(name)?;
    // SAFETY: as in `ready_read`.
    let board = unsafe { view(&shm) };
    let values: Vec<u64> = (0..n).map(|i| i * 7 + 1).collect();
    homework::arrays_ready::publish(board, &values)?;
    Ok(String::new())
}

// ---------------------------------------------------------------- semaphores

fn semaphores_counter(ctx: &Ctx) -> Verdict {
    use homework::semaphores_counter::Counter;
    let name = ctx.name("count");
    let shm = segment(&name, 4096)?;
    let counter = match student(|| Counter::create(&shm)) {
        Err(panic) => return Err(fail(format!("Counter::create panicked: {panic}"), "")),
        Ok(Err(e)) => return Err(fail(format!("Counter::create failed: {e:#}"), "")),
        Ok(Ok(c)) => c,
    };
    match student(|| counter.get()) {
        Ok(Ok(0)) => {}
        Ok(Ok(v)) => {
            return Err(fail(
                format!("a new counter reads {v}, not 0"),
                "create sets the value to 0",
            ))
        }
        Ok(Err(e)) => return Err(fail(format!("get failed: {e:#}"), "")),
        Err(panic) => return Err(fail(format!("get panicked: {panic}"), "")),
    }
    let results = workers(4, "_count", &[&name, "2000"])?;
    if let Some(Err(why)) = results.iter().find(|r| r.is_err()) {
        return Err(fail(format!("a worker failed: {why}"), ""));
    }
    match student(|| counter.get()) {
        Ok(Ok(8000)) => Ok(()),
        Ok(Ok(v)) => Err(fail(
            format!("four processes added 1 two thousand times each: the counter reads {v}, not 8000"),
            "read and write the value under one guard; and open must use Mutex::from_existing (Mutex::new re-initialises a lock others may hold)",
        )),
        Ok(Err(e)) => Err(fail(format!("get failed: {e:#}"), "")),
        Err(panic) => Err(fail(format!("get panicked: {panic}"), "")),
    }
}

/// Worker: `_count NAME TIMES` — open the counter and add 1, TIMES times.
fn count(args: &[String]) -> anyhow::Result<String> {
    let [name, times] = args else {
        bail!("needs NAME TIMES")
    };
    let shm = open(name)?;
    let counter = homework::semaphores_counter::Counter::open(&shm)?;
    for _ in 0..times.parse::<u32>()? {
        counter.add(1)?;
    }
    Ok(String::new())
}

/// What the semaphore's workers record, in a segment of the checker's own.
#[repr(C)]
struct Inside {
    now: AtomicU32,
    most: AtomicU32,
    entries: AtomicU32,
}

const PERMITS: u32 = 2;
const WORKERS: usize = 8;
const ROUNDS: u32 = 3;
/// The workers hold permits for 8 × 3 × 15 ms / 2 = 180 ms in all; with starting eight
/// processes, a correct semaphore finishes in under half a second on the book's
/// reference machine, also when other builds load it. Waiters that are never woken
/// find a permit only when their wait (of a second, see the exercise) times out: the
/// three waves after the first take about 3 s.
const SEM_PROMPT: Duration = Duration::from_secs(2);

fn semaphores_counting(ctx: &Ctx) -> Verdict {
    use homework::semaphores_counting::{Semaphore, SIZE};
    let name = ctx.name("sem");
    let stats_name = ctx.name("semstat");
    let shm = segment(&name, SIZE.max(4096))?;
    let stats_shm = segment(&stats_name, 4096)?;
    let _sem = match student(|| Semaphore::create(&shm, PERMITS)) {
        Err(panic) => return Err(fail(format!("Semaphore::create panicked: {panic}"), "")),
        Ok(Err(e)) => return Err(fail(format!("Semaphore::create failed: {e:#}"), "")),
        Ok(Ok(s)) => s,
    };
    let start = Instant::now();
    let results = workers(WORKERS, "_sem_worker", &[&name, &stats_name])?;
    let took = start.elapsed();
    // SAFETY: Inside is atomics only; the segment is zeroed and long enough.
    let stats: &Inside = unsafe { view(&stats_shm) };
    let most = stats.most.load(Ordering::SeqCst);
    if most > PERMITS {
        return Err(fail(
            format!("{most} workers were inside at once with {PERMITS} permits"),
            "look at the count and take the permit in one critical section, holding the mutex throughout",
        ));
    }
    if let Some(Err(why)) = results.iter().find(|r| r.is_err()) {
        return Err(fail(
            format!("a worker failed: {why}"),
            "a release must wake a waiter: set the Event after returning the permit; an auto-reset Event wakes one waiter per set, so a waiter that finds permits left should set it again",
        ));
    }
    let entries = stats.entries.load(Ordering::SeqCst);
    if entries != WORKERS as u32 * ROUNDS {
        return Err(fail(
            format!(
                "{entries} entries recorded, expected {}",
                WORKERS as u32 * ROUNDS
            ),
            "",
        ));
    }
    if took > SEM_PROMPT {
        return Err(fail(
            format!(
                "{WORKERS} workers, {ROUNDS} rounds of 15 ms each, {PERMITS} permits: took {:.1} s, expected under {:.1} s",
                took.as_secs_f64(),
                SEM_PROMPT.as_secs_f64()
            ),
            "waiters find permits only when their wait times out: release must set the Event, and a waiter that takes a permit while more are left should set it again (an auto-reset Event wakes one waiter per set)",
        ));
    }
    if most < PERMITS {
        return Err(fail(
            format!("never more than {most} worker inside with {PERMITS} permits"),
            "a semaphore with K permits lets K in at once: hold the mutex only while changing the count",
        ));
    }
    Ok(())
}

/// Worker: `_sem_worker SEM STATS` — enter ROUNDS times, recording who is inside.
fn sem_worker(args: &[String]) -> anyhow::Result<String> {
    let [name, stats_name] = args else {
        bail!("needs SEM STATS")
    };
    let shm = open(name)?;
    let stats_shm = open(stats_name)?;
    // SAFETY: as in `semaphores_counting`.
    let stats: &Inside = unsafe { view(&stats_shm) };
    let sem = homework::semaphores_counting::Semaphore::open(&shm)?;
    for _ in 0..ROUNDS {
        sem.acquire(Duration::from_secs(10))?;
        let now = stats.now.fetch_add(1, Ordering::SeqCst) + 1;
        stats.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(15));
        stats.now.fetch_sub(1, Ordering::SeqCst);
        stats.entries.fetch_add(1, Ordering::SeqCst);
        sem.release()?;
        // Give the waiters their turn: they get in only if release wakes them.
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(String::new())
}

// ---------------------------------------------------------------- alternatives

/// The frames both directions send: empty, small, and one larger than a pipe's buffer.
fn frames() -> Vec<Vec<u64>> {
    vec![
        vec![],
        vec![1],
        vec![1, 2, 3],
        (0..20_000).map(|i| i * 0x9E37_79B9).collect(),
        vec![u64::MAX],
    ]
}

/// Reads frames the way the exercise defines them (the checker's own reader).
fn reference_frames(mut bytes: &[u8]) -> Result<Vec<Vec<u64>>, String> {
    let mut word = || -> Option<u64> {
        let (w, rest) = bytes.split_first_chunk::<8>()?;
        bytes = rest;
        Some(u64::from_le_bytes(*w))
    };
    let mut out = Vec::new();
    while let Some(len) = word() {
        let mut f = Vec::new();
        for _ in 0..len {
            f.push(word().ok_or("the stream ends inside a frame")?);
        }
        out.push(f);
    }
    Ok(out)
}

fn alternatives_frames(_ctx: &Ctx) -> Verdict {
    use homework::alternatives_frames::read_frame;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().context("finding the grader")?;
    // 1. The student's writer, through a pipe, read by the checker.
    let out = Command::new(&exe)
        .arg("_frames_write")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit()) // a panic's message reaches the grader
        .output()
        .context("running the writer")?;
    if !out.status.success() {
        return Err(fail(
            format!(
                "the process running write_frame failed ({})",
                shmbook::helper::describe(out.status)
            ),
            "",
        ));
    }
    match reference_frames(&out.stdout) {
        Ok(f) if f == frames() => {}
        Ok(f) => return Err(fail(
            format!("write_frame's bytes read back as {} frames of lengths {:?}; expected lengths [0, 1, 3, 20000, 1]", f.len(), f.iter().map(Vec::len).collect::<Vec<_>>()),
            "first the length as u64::to_le_bytes, then each value the same way; use write_all (a pipe may take fewer bytes than one write offers)",
        )),
        Err(why) => return Err(fail(
            format!("write_frame's bytes do not parse: {why}"),
            "first the length as u64::to_le_bytes, then each value the same way; use write_all (a pipe may take fewer bytes than one write offers)",
        )),
    }
    // 2. The checker's writer, a few bytes at a time, read by the student's reader.
    let read_all = |role: &str| -> anyhow::Result<Result<Vec<Vec<u64>>, String>> {
        let mut child = Command::new(&exe)
            .arg(role)
            .stdout(Stdio::piped())
            .spawn()
            .context("running the sender")?;
        let mut pipe = child.stdout.take().context("the sender's pipe")?;
        let mut got = Vec::new();
        let result = loop {
            match student(|| read_frame(&mut pipe)) {
                Err(panic) => break Err(format!("read_frame panicked: {panic}")),
                Ok(Err(e)) => break Err(format!("read_frame failed: {e} ({:?})", e.kind())),
                Ok(Ok(None)) => break Ok(got),
                Ok(Ok(Some(f))) => got.push(f),
            }
        };
        drop(pipe);
        let _ = child.kill();
        let _ = child.wait();
        Ok(result)
    };
    match read_all("_frames_send")? {
        Ok(f) if f == frames() => {}
        Ok(f) => return Err(fail(
            format!("read_frame read {} frames of lengths {:?} from a pipe; expected lengths [0, 1, 3, 20000, 1]", f.len(), f.iter().map(Vec::len).collect::<Vec<_>>()),
            "one read() returns what the pipe holds, maybe 5 bytes: use read_exact for each part of a frame",
        )),
        Err(why) => return Err(fail(
            format!("reading well-formed frames sent 5 bytes at a time: {why}"),
            "one read() returns what the pipe holds, maybe 5 bytes: use read_exact for each part of a frame",
        )),
    }
    match read_all("_frames_cut")? {
        Err(why) if why.contains("UnexpectedEof") => Ok(()),
        Err(why) => Err(fail(format!("a stream cut inside a frame: {why}; expected an UnexpectedEof error"), "")),
        Ok(f) => Err(fail(
            format!("a stream cut inside a frame read as {} complete frame(s)", f.len()),
            "only an end before the first byte of a frame is a clean end; read_exact reports the others as UnexpectedEof",
        )),
    }
}

/// Worker: `_frames_write` — the student's write_frame, to standard output.
fn frames_write() -> anyhow::Result<String> {
    let mut out = std::io::stdout().lock();
    for f in frames() {
        homework::alternatives_frames::write_frame(&mut out, &f)?;
    }
    out.flush()?;
    std::process::exit(0); // nothing else may reach the pipe
}

/// Worker: `_frames_send` / `_frames_cut` — well-formed frames (or a cut one), 5 bytes
/// per write, with short pauses, so a reader sees them in pieces.
fn frames_send(cut: bool) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    let list = if cut { vec![vec![7, 8, 9]] } else { frames() };
    for f in list {
        bytes.extend_from_slice(&(f.len() as u64).to_le_bytes());
        for v in f {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    if cut {
        bytes.truncate(8 + 8 + 3); // the length, one value and a bit
    }
    let mut out = std::io::stdout().lock();
    for (i, chunk) in bytes.chunks(5).enumerate() {
        out.write_all(chunk)?;
        out.flush()?;
        if i % 4000 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    std::process::exit(0);
}

const RING_VALUES: u64 = 200_000;

fn alternatives_ring(ctx: &Ctx) -> Verdict {
    use homework::alternatives_ring::{Ring, CAPACITY};
    let cap = CAPACITY as u64;
    // 1. One process: empty, full, in order, around the end.
    let name = ctx.name("ring1");
    let shm = segment(&name, size_of::<Ring>())?;
    // SAFETY: Ring is atomics only (and padding); all zeros is an empty ring.
    let ring: &Ring = unsafe { view(&shm) };
    let push =
        |v: u64| student(|| ring.push(v)).map_err(|p| fail(format!("push panicked: {p}"), ""));
    let pop = || student(|| ring.pop()).map_err(|p| fail(format!("pop panicked: {p}"), ""));
    if let Some(v) = pop()? {
        return Err(fail(
            format!("pop on an empty ring returned {v}"),
            "the ring is empty when head == tail",
        ));
    }
    for i in 0..cap {
        if !push(i)? {
            return Err(fail(
                format!("the ring took only {i} values; it holds {CAPACITY}"),
                "with head and tail counting every value, the ring is full when head - tail == CAPACITY (no slot is left free)",
            ));
        }
    }
    if push(cap)? {
        return Err(fail(
            format!("push on a full ring of {CAPACITY} returned true: it overwrote a value"),
            "refuse when head - tail == CAPACITY",
        ));
    }
    // Drain the full ring, then pass values one at a time until head and tail have
    // gone around the slots twice more.
    for i in 0..3 * cap {
        if i >= cap && !push(i)? {
            return Err(fail(
                format!("push refused value {i} although the ring was empty"),
                "",
            ));
        }
        let got = pop()?;
        if got != Some(i) {
            return Err(fail(
                format!("pop number {i} returned {got:?}, expected Some({i})"),
                "value number i lives in slots[i % CAPACITY]; pop reads slots[tail % CAPACITY] and then advances tail",
            ));
        }
    }
    drop(shm);
    // 2. Two processes, many values.
    let name = ctx.name("ring2");
    let _shm = segment(&name, size_of::<Ring>())?;
    let n = RING_VALUES.to_string();
    let consumer = Helper::spawn_captured("_ring_pop", &[&name, &n])?;
    let producer = Helper::spawn_captured("_ring_push", &[&name, &n])?;
    let pushed = worker_result(&producer.wait(WORKER_TIMEOUT)?);
    let popped = worker_result(&consumer.wait(WORKER_TIMEOUT)?);
    if let Err(why) = popped {
        return Err(fail(
            format!("the consumer process: {why}"),
            "write the slot, then store head with Release; load head with Acquire before reading the slot; advance tail only after reading it",
        ));
    }
    if let Err(why) = pushed {
        return Err(fail(format!("the producer process: {why}"), ""));
    }
    Ok(())
}

/// How long a ring worker waits for the other side before it gives up.
const RING_PATIENCE: Duration = Duration::from_secs(10);

/// Worker: `_ring_push NAME N` — push 0..N, waiting while the ring is full.
fn ring_push(args: &[String]) -> anyhow::Result<String> {
    let [name, n] = args else {
        bail!("needs NAME N")
    };
    let shm = open(name)?;
    // SAFETY: as in `alternatives_ring`.
    let ring: &homework::alternatives_ring::Ring = unsafe { view(&shm) };
    let deadline = Instant::now() + RING_PATIENCE;
    for i in 0..n.parse::<u64>()? {
        while !ring.push(i) {
            if Instant::now() > deadline {
                bail!("the ring stayed full (at value {i})");
            }
            std::thread::yield_now();
        }
    }
    Ok(String::new())
}

/// Worker: `_ring_pop NAME N` — pop N values and check they are 0..N in order.
fn ring_pop(args: &[String]) -> anyhow::Result<String> {
    let [name, n] = args else {
        bail!("needs NAME N")
    };
    let n: u64 = n.parse()?;
    let shm = open(name)?;
    // SAFETY: as in `alternatives_ring`.
    let ring: &homework::alternatives_ring::Ring = unsafe { view(&shm) };
    let deadline = Instant::now() + RING_PATIENCE;
    let mut next = 0;
    while next < n {
        match ring.pop() {
            Some(v) if v == next => next += 1,
            Some(v) => bail!("value {v} arrived where {next} was due"),
            None if Instant::now() > deadline => {
                bail!("only {next} of {n} values arrived")
            }
            None => std::thread::yield_now(),
        }
    }
    Ok(format!("{n}"))
}

// ---------------------------------------------------------------- roles and sweeping

/// Runs a worker role and prints `OK ...` or `ERR why` (exit status 0 or 1).
pub fn run_role(role: &str, args: &[String]) -> ExitCode {
    let result = match role {
        "_exit" => Ok(String::new()),
        "_hold" => hold(args),
        "_open_race" => open_race(args),
        "_touch" => touch(args),
        "_ready_read" => ready_read(args),
        "_ready_write" => ready_write(args),
        "_count" => count(args),
        "_sem_worker" => sem_worker(args),
        "_frames_write" => frames_write(),
        "_frames_send" => frames_send(false),
        "_frames_cut" => frames_send(true),
        "_ring_push" => ring_push(args),
        "_ring_pop" => ring_pop(args),
        other => Err(anyhow!("unknown role '{other}'")),
    };
    match result {
        Ok(s) => {
            println!("OK {s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("ERR {}", one_line(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

/// The entries in /dev/shm (segments, and `sem.NAME` semaphores) of grader runs.
fn run_entries() -> Vec<(String, String)> {
    let bare = RUN_PREFIX.trim_start_matches('/');
    std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let rest = file
                .strip_prefix("sem.")
                .unwrap_or(&file)
                .strip_prefix(bare)?;
            let run = rest.split('-').next()?.to_string();
            Some((file, run))
        })
        .collect()
}

/// Removes every entry of run `run` from /dev/shm.
pub fn sweep_run(run: &str) {
    for (file, r) in run_entries() {
        if r == run {
            let _ = std::fs::remove_file(std::path::Path::new("/dev/shm").join(file));
        }
    }
}

/// Removes the entries of earlier grader runs whose process is gone (a grader that was
/// itself killed could not sweep).
pub fn sweep_stale() {
    for (file, run) in run_entries() {
        let Ok(pid) = run.parse::<libc::pid_t>() else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_file(std::path::Path::new("/dev/shm").join(file));
        }
    }
}
