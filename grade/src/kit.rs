//! What every check uses: its verdict, its context, the call into the student's code
//! (a panic or an error turned into a FAIL, written once here), the workers it starts,
//! and the segments it makes.
//!
//! A check runs in a process of its own (`grade _check NAME RUN`) and prints its
//! verdict as one line (see `report`). A check that needs several processes starts this
//! program again with a worker [`Role`] declared in its exercise's entry of the table,
//! waits for the workers with a time limit, and reads what they print: `OK ...` or
//! `ERR message`. Every segment a check makes is named `/shmgrade-<RUN>-<TAG>`, so the
//! grader can remove them all afterwards.

use std::mem::size_of;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context;
use shared_memory::{Shmem, ShmemConf};
use shmbook::helper::{Finished, Helper};

/// A check's result: pass, or a failure with its evidence and maybe a hint.
pub type Verdict = Result<(), Failure>;

/// A known trap: the evidence that points to it is decided by the check; the text is
/// what the student reads. Each exercise lists its hints in its module's `HINTS`, and
/// `grade hints NAME` prints them (the book's exercise pages show that output).
#[derive(Clone, Copy, Debug)]
pub struct Hint(pub &'static str);

/// Why a check failed, or why it could not run here.
pub struct Failure {
    pub message: String,
    pub hint: Option<Hint>,
    pub skip: bool,
}

/// A failure: the property that does not hold and the evidence, in one line.
pub fn fail(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        hint: None,
        skip: false,
    }
}

impl Failure {
    /// The hint whose trap the evidence matched.
    pub fn hint(mut self, hint: Hint) -> Failure {
        self.hint = Some(hint);
        self
    }
}

/// The exercise cannot be checked on this system (never counted as passed).
pub fn skip(message: &str) -> Failure {
    Failure {
        message: message.into(),
        hint: None,
        skip: true,
    }
}

impl From<anyhow::Error> for Failure {
    /// A failure of the check's own machinery (not of the student's code).
    fn from(e: anyhow::Error) -> Self {
        fail(format!("the check could not run: {e:#}"))
    }
}

/// What a check knows: the run's name prefix.
pub struct Ctx {
    pub run: String,
}

/// Every name a grader run makes starts with this and the grader's process id.
/// (Not `shmbook-`: the book's own test suites remove new `shmbook-` entries when
/// they end, which must not pull a running check's segments away.)
pub const RUN_PREFIX: &str = "/shmgrade-";

impl Ctx {
    /// A segment name of this run: `/shmgrade-<RUN>-<tag>`.
    pub fn name(&self, tag: &str) -> String {
        format!("{RUN_PREFIX}{}-{tag}", self.run)
    }
}

/// How long a check waits for one of its workers.
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the student's code, turning a panic into its message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string())
    })
}

/// Runs the student's `f` on a thread of its own and waits for it at most `limit`: its
/// value (a panic turned into its message), or None when it was still running then.
/// Such a thread is left to end with the check's process, so that a FAIL whose evidence
/// is "too slow" comes at the limit, not when a slow call returns.
pub fn within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<Result<T, String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch(f));
    });
    rx.recv_timeout(limit).ok()
}

/// Calls the student's `what` (e.g. "Counter::create"): its panic or its error is a
/// FAIL that says so; its value is returned.
pub fn call<T>(what: &str, f: impl FnOnce() -> anyhow::Result<T>) -> Result<T, Failure> {
    match catch(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(fail(format!("{what} failed: {e:#}"))),
        Err(panic) => Err(fail(format!("{what} panicked: {panic}"))),
    }
}

/// Calls the student's `what` that returns a plain value: a panic is a FAIL.
pub fn call_plain<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, Failure> {
    catch(f).map_err(|panic| fail(format!("{what} panicked: {panic}")))
}

/// Creates a segment for a check; it is removed when the returned `Shmem` drops (and
/// by the grader's sweep if this process dies first).
pub fn segment(name: &str, size: usize) -> anyhow::Result<Shmem> {
    ShmemConf::new()
        .size(size)
        .os_id(name)
        .create()
        .map_err(shmbook::os::explain)
        .with_context(|| format!("creating {name}"))
}

/// Opens a segment the check made.
pub fn open(name: &str) -> anyhow::Result<Shmem> {
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
pub unsafe fn view<T>(shm: &Shmem) -> &T {
    assert!(shm.len() >= size_of::<T>());
    // SAFETY: the mapping is page-aligned and long enough (asserted); the caller
    // guarantees the rest.
    unsafe { &*shm.as_ptr().cast::<T>() }
}

/// A worker process's entry point: its arguments in, `OK <result>` out.
pub type RoleFn = fn(&[String]) -> anyhow::Result<String>;

/// A worker a check starts: this program run again as `grade NAME ARGS...`. Each
/// exercise declares its roles in the exercise table; a check starts them through the
/// constant, never by a string of its own.
#[derive(Clone, Copy)]
pub struct Role {
    /// Starts with `_`, e.g. `_count`.
    pub name: &'static str,
    pub run: RoleFn,
}

impl Role {
    /// Starts the worker, capturing its standard output.
    pub fn spawn(&self, args: &[&str]) -> anyhow::Result<Helper> {
        Helper::spawn_captured(self.name, args)
    }

    /// Starts the worker and waits for its result (at most [`WORKER_TIMEOUT`]).
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Result<String, String>> {
        Ok(worker_result(&self.spawn(args)?.wait(WORKER_TIMEOUT)?))
    }
}

/// A worker's standard output: `OK ...` gives the rest, `ERR why` an error.
pub fn worker_result(f: &Finished) -> Result<String, String> {
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

/// How a worker that must give up ended: still running at the limit (killed), with a
/// result where an error was due, or with its error (and when).
pub enum GaveUp {
    Never(Duration),
    Succeeded(String, Duration),
    Failed(Duration),
}

/// Runs a worker's call and says how long it took: `N` (milliseconds) when it
/// succeeds, an error `N ms: why` when it fails.
pub fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<String> {
    let began = std::time::Instant::now();
    let result = f();
    let ms = began.elapsed().as_millis();
    match result {
        Ok(_) => Ok(ms.to_string()),
        Err(e) => Err(anyhow::anyhow!("{ms} ms: {e:#}")),
    }
}

/// Waits for a worker, started at `began`, whose call must fail with a timeout: at
/// most until `limit` after its start. (A check may do other work meanwhile.)
pub fn gives_up(
    worker: Helper,
    began: std::time::Instant,
    limit: Duration,
) -> anyhow::Result<GaveUp> {
    let left = limit
        .saturating_sub(began.elapsed())
        .max(Duration::from_millis(1));
    Ok(match worker.wait(left) {
        Err(_) => GaveUp::Never(limit),
        Ok(f) => match worker_result(&f) {
            // A worker that timed its call itself (see `timed`) is believed over the
            // clock here, which also counts its start (slow on a busy machine).
            Ok(out) => {
                let took = out.parse().map(Duration::from_millis);
                GaveUp::Succeeded(out, took.unwrap_or(began.elapsed()))
            }
            Err(why) => {
                let took = why.split_once(" ms: ").and_then(|(n, _)| n.parse().ok());
                GaveUp::Failed(took.map_or(began.elapsed(), Duration::from_millis))
            }
        },
    })
}

/// Starts one worker per argument list, then waits for all of them.
pub fn workers(role: &Role, args: &[Vec<String>]) -> anyhow::Result<Vec<Result<String, String>>> {
    let started: Vec<Helper> = args
        .iter()
        .map(|a| role.spawn(&a.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect::<anyhow::Result<_>>()?;
    Ok(wait_all(started))
}

/// Waits for every worker, all of them within [`WORKER_TIMEOUT`], and reads each
/// result.
pub fn wait_all(started: Vec<Helper>) -> Vec<Result<String, String>> {
    wait_all_within(started, WORKER_TIMEOUT)
}

/// Waits for every worker, all of them within `limit` (one deadline for all: workers
/// that deadlock together cost `limit`, not `limit` each), and reads each result.
pub fn wait_all_within(started: Vec<Helper>, limit: Duration) -> Vec<Result<String, String>> {
    let deadline = std::time::Instant::now() + limit;
    started
        .into_iter()
        .map(|h| {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match h.wait(left.max(Duration::from_millis(1))) {
                Ok(f) => worker_result(&f),
                Err(e) => Err(format!("{e:#}")),
            }
        })
        .collect()
}

/// A start line in a segment of the check's own: workers that must overlap (to show a
/// race) each arrive, then wait until all have, then start together.
pub struct Barrier {
    _shm: Shmem,
}

impl Barrier {
    /// Makes the barrier's segment `name`.
    pub fn create(name: &str) -> anyhow::Result<Barrier> {
        Ok(Barrier {
            _shm: segment(name, 4096)?,
        })
    }

    /// Arrives at the barrier `name` and waits (at most 10 s) until `n` have.
    pub fn wait(name: &str, n: u32) -> anyhow::Result<()> {
        let shm = open(name)?;
        // SAFETY: an AtomicU32 at the start of a zeroed 4096-byte segment; the
        // reference does not outlive `shm`.
        let arrived: &AtomicU32 = unsafe { view(&shm) };
        arrived.fetch_add(1, Ordering::SeqCst);
        shmbook::wait::until(
            "the other workers at the start line",
            Duration::from_secs(10),
            || arrived.load(Ordering::SeqCst) >= n,
        )
    }
}

/// Replaces tabs and newlines, so a message stays one line.
pub fn one_line(s: &str) -> String {
    s.replace(['\n', '\t'], " ")
}

/// The process id of a process that has just ended.
pub fn dead_pid() -> anyhow::Result<u32> {
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("_exit")
        .spawn()
        .context("starting a short-lived process")?;
    let pid = child.id();
    child.wait()?;
    Ok(pid)
}

/// Waits (at most `limit`) until `ready()` holds while `worker` runs, and gives the
/// worker back. A worker that ends first is reaped and its result (see
/// [`worker_result`]) is the error, at once rather than at the limit; at the limit the
/// worker is killed.
pub fn until_or_ended(
    mut worker: Helper,
    what: &str,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<Helper, String> {
    let mut ended = false;
    let waited = shmbook::wait::until(what, limit, || {
        ended = !matches!(worker.try_wait(), Ok(None));
        ended || ready()
    });
    if let Err(e) = waited {
        return Err(format!("{e:#}"));
    }
    if !ended {
        return Ok(worker);
    }
    match worker.wait(WORKER_TIMEOUT) {
        Ok(f) => Err(match worker_result(&f) {
            Ok(out) => format!("a worker ended early, saying {out:?}"),
            Err(why) => why,
        }),
        Err(e) => Err(format!("{e:#}")),
    }
}
