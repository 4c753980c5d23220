//! Chapter "Semaphores versus mutexes": what each kind of lock promises, shown between
//! processes.
//!
//! Run `cargo run --example semaphores -- --help` for the subcommands. The helper roles
//! (`_post`, `_hold`, ...) are this program started again by the parent.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use raw_sync::events::{Event, EventInit, EventState};
use raw_sync::locks::{LockImpl, LockInit, Mutex, RwLock};
use raw_sync::Timeout;
use shared_memory::{Shmem, ShmemConf};
use shmbook::cli::{self, SegmentName};
use shmbook::helper::{self, Helper};
use shmbook::locks::{lock_within, read_within};
use shmbook::semaphore::Semaphore;
use shmbook::sync::SyncContext;
use shmbook::{names, os, wait, PROCESS_TIMEOUT};

const USAGE: cli::Usage = cli::Usage {
    program: "semaphores",
    about: "what semaphores, mutexes, read-write locks and events promise between processes",
    commands: &[
        (
            "release",
            "a semaphore released by a process that never took it",
        ),
        (
            "unlock-other",
            "an error-checking mutex refuses an unlock by a non-owner (EPERM)",
        ),
        (
            "admit [--k K] [--workers W]",
            "a counting semaphore lets K of W workers in at once",
        ),
        (
            "rwlock",
            "readers share a read-write lock, a writer is alone",
        ),
        ("event", "wait for \"the data is ready\" without polling"),
        (
            "dead-holder",
            "a holder dies: raw_sync's mutex stays locked, a robust one recovers",
        ),
        (
            "timeout-bug",
            "raw_sync's timed lock fails with EINVAL, and the workaround",
        ),
        ("_post NAME", ""),
        ("_unlock NAME", ""),
        ("_worker NAME", ""),
        ("_reader NAME [--late]", ""),
        ("_writer NAME", ""),
        ("_consumer NAME", ""),
        ("_hold NAME KIND", ""),
    ],
};

fn main() -> std::process::ExitCode {
    cli::main(&USAGE, |command, mut args| match command {
        "admit" => {
            let k: u32 = args.value_or("--k", 2)?;
            let workers: u32 = args.value_or("--workers", 5)?;
            if k == 0 || workers > 16 || k > workers {
                return Err(args
                    .invalid("need 1 <= K <= W <= 16 (--k K --workers W)")
                    .into());
            }
            args.finish()?;
            admit(k, workers)
        }
        c if c.starts_with('_') => {
            let SegmentName(name) = args.positional("segment name")?;
            let late = args.switch("--late");
            let kind = match c {
                "_hold" => Some(args.positional::<HoldKind>("kind")?),
                _ => None,
            };
            args.finish()?;
            match (c, kind) {
                ("_post", _) => post_unowned(&name),
                ("_unlock", _) => unlock_unowned(&name),
                ("_worker", _) => worker(&name),
                ("_reader", _) => reader(&name, late),
                ("_writer", _) => writer(&name),
                ("_consumer", _) => consumer(&name),
                (_, Some(kind)) => hold(&name, kind),
                _ => unreachable!("every role is handled above"),
            }
        }
        other => {
            args.finish()?;
            match other {
                "release" => release(),
                "unlock-other" => unlock_other(),
                "rwlock" => rwlock(),
                "event" => event(),
                "dead-holder" => dead_holder(),
                _ => timeout_bug(),
            }
        }
    })
}

/// Which mutex a `_hold` helper takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HoldKind {
    Raw,
    Robust,
}

impl cli::FromArg for HoldKind {
    const WHAT: &'static str = "raw or robust";
    fn from_arg(word: &str) -> Result<Self, String> {
        match word {
            "raw" => Ok(HoldKind::Raw),
            "robust" => Ok(HoldKind::Robust),
            _ => Err(format!("'{word}' is not raw or robust")),
        }
    }
}

/// Flags and counters at the start of every demo's segment; the OS objects follow.
#[repr(C)]
#[derive(Default)]
struct Shared {
    ready: AtomicU32,
    go: AtomicU32,
    inside: AtomicU32,
    most_inside: AtomicU32,
    writer_inside: AtomicU32,
    seen_wrong: AtomicU32,
    late_waited: AtomicU32,
    room: AtomicU32,
    workers: AtomicU32,
    entered: AtomicU32,
    data: AtomicU64,
}

/// Where the semaphore, mutex, read-write lock or event lives in the segment.
const OBJECT_AT: usize = 128;

fn create() -> Result<Shmem> {
    ShmemConf::new()
        .size(4096)
        .os_id(names::unique("semaphor")) // removed on Ctrl-C too
        .create()
        .map_err(os::explain)
        .context("creating the demo's segment")
}

fn open(name: &str) -> Result<Shmem> {
    ShmemConf::new()
        .os_id(name)
        .open()
        .map_err(os::explain)
        .with_context(|| format!("opening {name}"))
}

fn shared(shmem: &Shmem) -> &Shared {
    // SAFETY: the mapping is page-aligned and 4096 bytes, larger than `Shared`, whose
    // fields are all atomics (valid for any bytes, zero on creation) and may be used by
    // several processes at once; the borrow cannot outlive the mapping.
    unsafe { &*(shmem.as_ptr() as *const Shared) }
}

fn object(shmem: &Shmem) -> *mut u8 {
    // SAFETY: OBJECT_AT + the largest object (an Event, under 128 bytes) < 4096.
    unsafe { shmem.as_ptr().add(OBJECT_AT) }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Waits (bounded) until `n` helpers have attached, then tells them all to go.
fn start_together(s: &Shared, n: u32) -> Result<()> {
    wait::until("the helpers to attach", PROCESS_TIMEOUT, || {
        s.ready.load(Ordering::Acquire) == n
    })?;
    s.go.store(1, Ordering::Release);
    Ok(())
}

/// A helper's side of [`start_together`].
fn attach_and_wait_for_go(s: &Shared) -> Result<()> {
    s.ready.fetch_add(1, Ordering::AcqRel);
    wait::until("the parent's go", PROCESS_TIMEOUT, || {
        s.go.load(Ordering::Acquire) == 1
    })
}

// ANCHOR: release
fn release() -> Result<()> {
    let shmem = create()?;
    // SAFETY: OBJECT_AT is 8-aligned inside the segment; no helper exists yet.
    let sem = unsafe { Semaphore::init(object(&shmem), 1)? };
    sem.wait_within(PROCESS_TIMEOUT, "the semaphore")?;
    println!("parent: took the semaphore; its count is {}", sem.value()?);

    Helper::spawn("_post", &[shmem.get_os_id()])?.wait_ok(PROCESS_TIMEOUT)?;
    println!("parent: its count is {} again", sem.value()?);
    // SAFETY: the helper has exited; nobody else uses the semaphore.
    unsafe { sem.destroy() };
    Ok(())
}

fn post_unowned(name: &str) -> Result<()> {
    let shmem = open(name)?;
    // SAFETY: the parent initialized the semaphore at OBJECT_AT before starting us.
    let sem = unsafe { Semaphore::attach(object(&shmem)) };
    sem.post()?; // this process never called wait: a semaphore has no owner
    println!("helper: released it without ever taking it: allowed");
    Ok(())
}
// ANCHOR_END: release

// ANCHOR: pmutex
/// A pthread mutex set up by hand, for the kinds raw_sync cannot make.
struct PMutex(*mut libc::pthread_mutex_t);

#[derive(Clone, Copy)]
enum Kind {
    /// PTHREAD_MUTEX_ERRORCHECK: misuse returns an error instead of undefined behaviour.
    ErrorCheck,
    /// PTHREAD_MUTEX_ROBUST: if the holder dies, the next locker is told (EOWNERDEAD).
    #[cfg(target_os = "linux")]
    Robust,
}

impl PMutex {
    /// Initializes a process-shared mutex of `kind` at `at`.
    ///
    /// # Safety
    /// `at` must be 8-aligned, inside a shared mapping, with room for a
    /// `pthread_mutex_t`, and no other process may use it before this returns.
    unsafe fn init(at: *mut u8, kind: Kind) -> Result<PMutex> {
        // The attribute object is written by pthread_mutexattr_init through a pointer;
        // it is never read as a Rust value, so uninitialized memory is fine here
        // (unlike raw_sync's `MaybeUninit::uninit().assume_init()`).
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        let a = attr.as_mut_ptr();
        // SAFETY: `a` points to writable memory for an attribute object.
        check("pthread_mutexattr_init", unsafe {
            libc::pthread_mutexattr_init(a)
        })?;
        // SAFETY: `a` was initialized above; `at` is valid (the caller's promise).
        let result = unsafe {
            check(
                "pthread_mutexattr_setpshared",
                libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
            )
            .and_then(|()| match kind {
                Kind::ErrorCheck => check(
                    "pthread_mutexattr_settype",
                    libc::pthread_mutexattr_settype(a, libc::PTHREAD_MUTEX_ERRORCHECK),
                ),
                #[cfg(target_os = "linux")]
                Kind::Robust => check(
                    "pthread_mutexattr_setrobust",
                    libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
                ),
            })
            .and_then(|()| check("pthread_mutex_init", libc::pthread_mutex_init(at.cast(), a)))
        };
        // SAFETY: `a` is initialized; the mutex keeps no reference to its attributes.
        unsafe { libc::pthread_mutexattr_destroy(a) };
        result.map(|()| PMutex(at.cast()))
    }

    /// A handle to a mutex another process initialized at `at`.
    ///
    /// # Safety
    /// `init` must have returned for this address, and the segment stays mapped.
    unsafe fn attach(at: *mut u8) -> PMutex {
        PMutex(at.cast())
    }

    /// pthread_mutex_lock / unlock return an error number: 0 means success.
    fn lock(&self) -> i32 {
        // SAFETY: the mutex was initialized and stays mapped (init/attach contract).
        unsafe { libc::pthread_mutex_lock(self.0) }
    }

    fn unlock(&self) -> i32 {
        // SAFETY: as in `lock`.
        unsafe { libc::pthread_mutex_unlock(self.0) }
    }

    /// Destroys the OS object; raw_sync's Drop never does this for its own mutexes.
    ///
    /// # Safety
    /// No process uses the mutex any more, and it is unlocked.
    unsafe fn destroy(self) {
        // SAFETY: the caller's promise.
        unsafe { libc::pthread_mutex_destroy(self.0) };
    }
}
// ANCHOR_END: pmutex

fn check(call: &str, rc: i32) -> Result<()> {
    if rc != 0 {
        bail!("{call}: {}", describe(rc));
    }
    Ok(())
}

/// "EPERM (Operation not permitted)".
fn describe(rc: i32) -> String {
    let name = match rc {
        #[cfg(target_os = "linux")]
        libc::EOWNERDEAD => "EOWNERDEAD",
        #[cfg(target_os = "linux")]
        libc::ENOTRECOVERABLE => "ENOTRECOVERABLE",
        _ => os::errno_name(rc),
    };
    let text = std::io::Error::from_raw_os_error(rc).to_string();
    let text = text
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string();
    format!("{name} ({text})")
}

// ANCHOR: unlock_other
fn unlock_other() -> Result<()> {
    let shmem = create()?;
    // SAFETY: OBJECT_AT is aligned, inside the segment; no helper exists yet.
    let mutex = unsafe { PMutex::init(object(&shmem), Kind::ErrorCheck)? };
    check("pthread_mutex_lock", mutex.lock())?; // free, so this returns at once
    println!("parent: locked the error-checking mutex");

    Helper::spawn("_unlock", &[shmem.get_os_id()])?.wait_ok(PROCESS_TIMEOUT)?;
    check("pthread_mutex_unlock", mutex.unlock())?;
    println!("parent: unlocked it myself: allowed");
    // SAFETY: the helper has exited and the mutex is unlocked.
    unsafe { mutex.destroy() };
    Ok(())
}

fn unlock_unowned(name: &str) -> Result<()> {
    let shmem = open(name)?;
    // SAFETY: the parent initialized the mutex at OBJECT_AT before starting us.
    let mutex = unsafe { PMutex::attach(object(&shmem)) };
    let rc = mutex.unlock();
    println!(
        "helper: pthread_mutex_unlock on the parent's mutex: {}",
        describe(rc)
    );
    Ok(())
}
// ANCHOR_END: unlock_other

// ANCHOR: admit
/// How long each worker stays inside.
const INSIDE_FOR: Duration = Duration::from_millis(60);

fn admit(k: u32, workers: u32) -> Result<()> {
    let shmem = create()?;
    let s = shared(&shmem);
    // SAFETY: OBJECT_AT is aligned, inside the segment; no helper exists yet.
    let sem = unsafe { Semaphore::init(object(&shmem), k)? };
    s.room.store(k, Ordering::Relaxed);
    s.workers.store(workers, Ordering::Relaxed);
    let helpers = (0..workers)
        .map(|_| Helper::spawn("_worker", &[shmem.get_os_id()]))
        .collect::<Result<Vec<_>>>()?;
    start_together(s, workers)?;
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    println!(
        "{workers} workers, a semaphore with count {k}: at most {} were inside at once",
        s.most_inside.load(Ordering::Acquire)
    );
    // SAFETY: every worker has exited.
    unsafe { sem.destroy() };
    Ok(())
}

fn worker(name: &str) -> Result<()> {
    let shmem = open(name)?;
    let s = shared(&shmem);
    // SAFETY: the parent initialized the semaphore before starting us.
    let sem = unsafe { Semaphore::attach(object(&shmem)) };
    attach_and_wait_for_go(s)?;
    sem.wait_within(PROCESS_TIMEOUT, "a place inside")?;
    s.entered.fetch_add(1, Ordering::AcqRel);
    let now = s.inside.fetch_add(1, Ordering::AcqRel) + 1;
    s.most_inside.fetch_max(now, Ordering::AcqRel);
    // Stay until the room is full (or every worker has been in), then work a while:
    // the run shows that K fit at once, and `most_inside` that no more ever got in.
    wait::until("the room to fill", PROCESS_TIMEOUT, || {
        s.inside.load(Ordering::Acquire) >= s.room.load(Ordering::Relaxed)
            || s.entered.load(Ordering::Acquire) == s.workers.load(Ordering::Relaxed)
    })?;
    std::thread::sleep(INSIDE_FOR); // the work
    s.inside.fetch_sub(1, Ordering::AcqRel);
    sem.post()
}
// ANCHOR_END: admit

// ANCHOR: rwlock
fn rwlock() -> Result<()> {
    let shmem = create()?;
    let s = shared(&shmem);
    let name = shmem.get_os_id();
    // SAFETY: OBJECT_AT is aligned, inside the segment; no helper exists yet. The
    // data pointer is unused (the demo's data are the atomics in `Shared`).
    let _lock = unsafe { RwLock::new(object(&shmem), std::ptr::null_mut()) }
        .sync_context("creating the read-write lock")?;
    let mut helpers = Vec::new();
    for _ in 0..3 {
        helpers.push(Helper::spawn("_reader", &[name])?);
    }
    helpers.push(Helper::spawn("_writer", &[name])?);
    helpers.push(Helper::spawn("_reader", &[name, "--late"])?);
    start_together(s, 5)?;
    for h in helpers {
        h.wait_ok(PROCESS_TIMEOUT)?;
    }
    println!(
        "most readers inside at once: {}",
        s.most_inside.load(Ordering::Acquire)
    );
    println!(
        "a reader and the writer inside together: {}",
        yes_no(s.seen_wrong.load(Ordering::Acquire) > 0)
    );
    println!(
        "the reader that came while the writer held the lock waited for it: {}",
        yes_no(s.late_waited.load(Ordering::Acquire) == 1)
    );
    Ok(())
}

fn reader(name: &str, late: bool) -> Result<()> {
    let shmem = open(name)?;
    let s = shared(&shmem);
    // SAFETY: the parent created the lock at OBJECT_AT before starting us.
    let (lock, _) = unsafe { RwLock::from_existing(object(&shmem), std::ptr::null_mut()) }
        .sync_context("attaching to the read-write lock")?;
    attach_and_wait_for_go(s)?;
    if late {
        wait::until("the writer to get in", PROCESS_TIMEOUT, || {
            s.writer_inside.load(Ordering::Acquire) == 1
        })?;
    }
    let _guard = read_within(&*lock, PROCESS_TIMEOUT, "the read lock")?;
    if s.writer_inside.load(Ordering::Acquire) != 0 {
        s.seen_wrong.fetch_add(1, Ordering::AcqRel);
    } else if late {
        s.late_waited.store(1, Ordering::Release);
    }
    let now = s.inside.fetch_add(1, Ordering::AcqRel) + 1;
    s.most_inside.fetch_max(now, Ordering::AcqRel);
    if !late {
        // The three first readers stay until all three are in: only a shared lock
        // lets that happen (an exclusive one would make this wait time out).
        wait::until("three readers inside", PROCESS_TIMEOUT, || {
            s.most_inside.load(Ordering::Acquire) == 3
        })?;
    }
    std::thread::sleep(INSIDE_FOR);
    s.inside.fetch_sub(1, Ordering::AcqRel);
    Ok(())
}

fn writer(name: &str) -> Result<()> {
    let shmem = open(name)?;
    let s = shared(&shmem);
    // SAFETY: as in `reader`.
    let (lock, _) = unsafe { RwLock::from_existing(object(&shmem), std::ptr::null_mut()) }
        .sync_context("attaching to the read-write lock")?;
    attach_and_wait_for_go(s)?;
    // Come while the three first readers are inside: the write lock must wait for them.
    wait::until("three readers inside", PROCESS_TIMEOUT, || {
        s.most_inside.load(Ordering::Acquire) == 3
    })?;
    let _guard = lock_within(&*lock, PROCESS_TIMEOUT, "the write lock")?;
    if s.inside.load(Ordering::Acquire) != 0 {
        s.seen_wrong.fetch_add(1, Ordering::AcqRel);
    }
    s.writer_inside.store(1, Ordering::Release);
    std::thread::sleep(INSIDE_FOR);
    s.writer_inside.store(0, Ordering::Release);
    Ok(())
}
// ANCHOR_END: rwlock

// ANCHOR: event
fn event() -> Result<()> {
    let shmem = create()?;
    let s = shared(&shmem);
    // SAFETY: OBJECT_AT is aligned, inside the segment; no helper exists yet.
    let (ready, _) =
        unsafe { Event::new(object(&shmem), false) }.sync_context("creating the event")?;
    let consumer = Helper::spawn("_consumer", &[shmem.get_os_id()])?;
    start_together(s, 1)?;
    std::thread::sleep(Duration::from_millis(50)); // preparing the data takes a while
    s.data.store(42, Ordering::Release);
    println!("parent: wrote 42 and set the event");
    ready
        .set(EventState::Signaled)
        .sync_context("setting the event")?;
    consumer.wait_ok(PROCESS_TIMEOUT)?;
    Ok(())
}

fn consumer(name: &str) -> Result<()> {
    let shmem = open(name)?;
    let s = shared(&shmem);
    // SAFETY: the parent created the event at OBJECT_AT before starting us.
    let (ready, _) =
        unsafe { Event::from_existing(object(&shmem)) }.sync_context("attaching to the event")?;
    attach_and_wait_for_go(s)?;
    let start = Instant::now();
    // Whole seconds: raw_sync computes those deadlines correctly (see timeout-bug).
    let limit = Duration::from_secs(PROCESS_TIMEOUT.as_secs());
    ready
        .wait(Timeout::Val(limit))
        .sync_context("waiting for the data")?;
    println!(
        "helper: woke up after {:.2} s, asleep meanwhile; the data is {}",
        start.elapsed().as_secs_f64(),
        s.data.load(Ordering::Acquire)
    );
    Ok(())
}
// ANCHOR_END: event

// ANCHOR: dead_holder
fn dead_holder() -> Result<()> {
    let shmem = create()?;
    let s = shared(&shmem);
    // SAFETY: OBJECT_AT is aligned, inside the segment; no helper exists yet.
    let (mutex, _) = unsafe { Mutex::new(object(&shmem), std::ptr::null_mut()) }
        .sync_context("creating the mutex")?;
    kill_holder(&shmem, "raw")?;
    let limit = Duration::from_millis(200);
    match lock_within(&*mutex, limit, "the mutex") {
        Ok(_) => bail!("the dead holder's raw_sync mutex was free"),
        Err(_) => println!(
            "parent: raw_sync mutex still locked after {} s: it never will be free",
            limit.as_secs_f64()
        ),
    }
    s.ready.store(0, Ordering::Release);
    robust(&shmem)
}

/// Starts a helper that locks the mutex at OBJECT_AT, waits until it holds it, kills it.
fn kill_holder(shmem: &Shmem, kind: &str) -> Result<()> {
    let holder = Helper::spawn("_hold", &[shmem.get_os_id(), kind])?;
    wait::until("the helper to take the lock", PROCESS_TIMEOUT, || {
        shared(shmem).ready.load(Ordering::Acquire) == 1
    })?;
    let status = holder.kill()?;
    let which = if kind == "raw" { "raw_sync" } else { kind };
    println!(
        "parent: the {which} mutex's holder was {}",
        helper::describe(status)
    );
    Ok(())
}

#[cfg(target_os = "linux")]
fn robust(shmem: &Shmem) -> Result<()> {
    let s = shared(shmem);
    // SAFETY: the raw_sync mutex at OBJECT_AT is abandoned (its holder is dead, and it
    // needs no destroy on Linux); we initialize a new mutex over it, nobody else runs.
    let mutex = unsafe { PMutex::init(object(shmem), Kind::Robust)? };
    kill_holder(shmem, "robust")?;
    let deadline = shmbook::locks::deadline(Duration::from_millis(500));
    // SAFETY: the mutex was initialized above and stays mapped; `deadline` is valid.
    let rc = unsafe { libc::pthread_mutex_timedlock(mutex.0, &deadline) };
    println!("parent: pthread_mutex_timedlock returned {}", describe(rc));
    if rc != libc::EOWNERDEAD {
        bail!("expected EOWNERDEAD, got {}", describe(rc));
    }
    // We hold the lock now. Whatever the dead holder was changing may be half done:
    // repair it, then declare the mutex consistent again.
    s.data.store(0, Ordering::Release);
    // SAFETY: we hold the mutex after EOWNERDEAD, which is when this call is allowed.
    check("pthread_mutex_consistent", unsafe {
        libc::pthread_mutex_consistent(mutex.0)
    })?;
    check("pthread_mutex_unlock", mutex.unlock())?;
    println!("parent: repaired the data, marked it consistent, unlocked it");
    check("pthread_mutex_lock", mutex.lock())?;
    check("pthread_mutex_unlock", mutex.unlock())?;
    println!("parent: the next lock and unlock succeed");
    // SAFETY: the holder is dead, nobody else uses the mutex, and it is unlocked.
    unsafe { mutex.destroy() };
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn robust(_shmem: &Shmem) -> Result<()> {
    println!("robust mutexes: not supported on this system");
    Ok(())
}

fn hold(name: &str, kind: HoldKind) -> Result<()> {
    let shmem = open(name)?;
    let s = shared(&shmem);
    let at = object(&shmem);
    let _raw_guard;
    match kind {
        HoldKind::Raw => {
            // SAFETY: the parent created a raw_sync mutex at OBJECT_AT before starting us.
            let (mutex, _) = unsafe { Mutex::from_existing(at, std::ptr::null_mut()) }
                .sync_context("attaching to the mutex")?;
            // Leak the handle: the guard below borrows it until we are killed.
            let mutex: &'static dyn LockImpl = Box::leak(mutex);
            _raw_guard = lock_within(mutex, PROCESS_TIMEOUT, "the mutex")?;
        }
        HoldKind::Robust => {
            // SAFETY: the parent initialized a robust PMutex at OBJECT_AT.
            let mutex = unsafe { PMutex::attach(at) };
            check("pthread_mutex_lock", mutex.lock())?;
            s.data.store(1, Ordering::Release); // "half-way through an update"
        }
    }
    s.ready.store(1, Ordering::Release);
    std::thread::sleep(PROCESS_TIMEOUT); // bounded: the parent kills us long before
    bail!("nobody killed this helper")
}
// ANCHOR_END: dead_holder

// ANCHOR: timeout_bug
fn timeout_bug() -> Result<()> {
    let shmem = create()?;
    // SAFETY: OBJECT_AT is aligned, inside the segment; no helper exists yet.
    let (mutex, _) = unsafe { Mutex::new(object(&shmem), std::ptr::null_mut()) }
        .sync_context("creating the mutex")?;

    let timeout = Duration::from_nanos(999_999_999);
    let free = mutex.try_lock(Timeout::Val(timeout));
    println!(
        "free mutex, timeout 0.999999999 s: locked: {}",
        yes_no(free.is_ok())
    );
    drop(free);

    let holder = Helper::spawn("_hold", &[shmem.get_os_id(), "raw"])?;
    wait::until("the helper to take the lock", PROCESS_TIMEOUT, || {
        shared(&shmem).ready.load(Ordering::Acquire) == 1
    })?;
    held_timed_lock(&*mutex, timeout, "0.999999999 s")?;
    held_timed_lock(&*mutex, Duration::from_secs(1), "1 s")?;
    let start = Instant::now();
    let limit = Duration::from_millis(200);
    if lock_within(&*mutex, limit, "the mutex").is_ok() {
        bail!("locked a mutex another process holds");
    }
    println!(
        "held mutex, shmbook::locks::lock_within 0.2 s: timed out after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    holder.kill()?;
    Ok(())
}

/// raw_sync's own timed lock on a mutex another process holds. Linux only: on macOS
/// raw_sync replaces `pthread_mutex_timedlock` with a polling loop whose deadline check
/// an un-carried deadline never passes, so this call could wait for ever there.
#[cfg(target_os = "linux")]
fn held_timed_lock(mutex: &dyn LockImpl, timeout: Duration, what: &str) -> Result<()> {
    let start = Instant::now();
    match mutex.try_lock(Timeout::Val(timeout)) {
        Ok(_) => bail!("locked a mutex another process holds"),
        Err(e) => {
            // raw_sync's message ends with the error number: name it.
            let text = e.to_string();
            let name = text
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .map_or("?", os::errno_name);
            println!(
                "held mutex, timeout {what}: \"{text}\" ({name}) after {:.2} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn held_timed_lock(_mutex: &dyn LockImpl, _timeout: Duration, what: &str) -> Result<()> {
    println!("held mutex, timeout {what}: not supported on this system");
    Ok(())
}
// ANCHOR_END: timeout_bug
