//! What every class of attack needs: the examples and their command lines, one run of
//! an example in a sandbox with a possible signal, a seeded generator, a small pool
//! of threads, and the knobs of the heavy runs (environment variables).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use shmbook::process::{self, Output};

use crate::help;
use crate::runner;
use crate::sandbox::{self, Sandbox};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin(example: &str) -> PathBuf {
    runner::examples_dir().join(example)
}

/// Builds the examples once, and makes this test process the subreaper of what it
/// starts: a helper whose parent died is re-parented to us, so it can be reaped after
/// it is found and killed.
pub fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        runner::build_examples().expect("build the examples");
        nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    });
}

thread_local! {
    static IGNORED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Forgets that the last test was ignored (the harness, before each test).
pub fn reset_ignored() {
    IGNORED.with(|c| c.set(false));
}

/// True when the test that just returned did not run (see [`sandbox_or_ignore`]):
/// the harness then counts it as ignored, not passed.
pub fn was_ignored() -> bool {
    IGNORED.with(|c| c.get())
}

/// True when the sandbox works; otherwise prints that the class is IGNORED, marks the
/// test as ignored for the harness (it must not count as passed) and, on CI, fails.
pub fn sandbox_or_ignore(class: &str) -> bool {
    // The classes take half a minute: a plain `cargo test` leaves them out (and says
    // so); CI (`CI=true`) and `HOSTILE=1 cargo test --test hostile` run them.
    if std::env::var_os("HOSTILE").is_none() && !runner::in_ci() {
        IGNORED.with(|c| c.set(true));
        eprintln!("hostile: {class}: IGNORED, not run: HOSTILE=1 runs it (CI always does)");
        return false;
    }
    match sandbox::unavailable() {
        None => true,
        Some(why) => {
            IGNORED.with(|c| c.set(true));
            eprintln!("hostile: {class}: IGNORED, not run: {why}");
            assert!(!runner::in_ci(), "{class} must run on CI: {why}");
            false
        }
    }
}

/// The start of a randomized class: `None` when it cannot run here (see
/// [`sandbox_or_ignore`]); else whether this is a full run (`HOSTILE_FULL=1`), the seed
/// and a generator seeded with it.
pub fn begin(class: &str) -> Option<(bool, u64, Rng)> {
    if !sandbox_or_ignore(class) {
        return None;
    }
    let seed = seed();
    Some((knob("HOSTILE_FULL", 0) != 0, seed, Rng(seed)))
}

/// Examples by name, each with its subcommands.
pub type Examples = Vec<(String, Vec<help::Spec>)>;

/// Every example with all its subcommands and hidden roles, read from their help
/// (an example whose help cannot be read is left out, with a line saying so).
pub fn specs() -> Examples {
    static SPECS: Mutex<Option<Examples>> = Mutex::new(None);
    let mut s = SPECS.lock().unwrap_or_else(|e| e.into_inner());
    s.get_or_insert_with(|| {
        setup();
        runner::all_examples(root())
            .into_iter()
            .filter_map(|e| match help::all(root(), &bin(&e), &e) {
                Ok(specs) => Some((e, specs)),
                Err(err) => {
                    // tests/bad_input.rs fails on it; here the example is left out.
                    eprintln!("hostile: {e} LEFT OUT of the help-derived classes: {err}");
                    None
                }
            })
            .collect()
    })
    .clone()
}

/// An environment variable as a number, or `default`.
pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed of a randomized class: `HOSTILE_SEED`, or one from the clock.
pub fn seed() -> u64 {
    knob(
        "HOSTILE_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    )
}

/// splitmix64: small, seeded, reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Keeps `n` items of `items`, picked at random (their order is shuffled too).
pub fn sample<T>(items: &mut Vec<T>, n: usize, rng: &mut Rng) {
    for i in 0..n.min(items.len()) {
        let j = i + rng.below((items.len() - i) as u64) as usize;
        items.swap(i, j);
    }
    items.truncate(n);
}

/// Runs `work` over `items` on `HOSTILE_JOBS` threads (default 4: most of a run is
/// waiting); returns the failures it reported, in the order of `items`.
pub fn pool<T: Sync>(items: &[T], work: impl Fn(&T) -> Option<String> + Sync) -> Vec<String> {
    pool_with(items, || (), |_, item| work(item))
}

/// [`pool`], each thread with a sandbox of its own, emptied before each item.
pub fn pool_in_sandboxes<T: Sync>(
    items: &[T],
    work: impl Fn(&Sandbox, &T) -> Option<String> + Sync,
) -> Vec<String> {
    pool_with(
        items,
        || Sandbox::new().expect("a sandbox"),
        |sb, item| {
            sb.reset();
            work(sb, item)
        },
    )
}

/// [`pool`] with a state per thread, made by `state` and dropped when the thread is
/// done (before this returns).
fn pool_with<S, T: Sync>(
    items: &[T],
    state: impl Fn() -> S + Sync,
    work: impl Fn(&S, &T) -> Option<String> + Sync,
) -> Vec<String> {
    let jobs = knob("HOSTILE_JOBS", 4).max(1) as usize;
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(items.len().max(1)) {
            s.spawn(|| {
                let st = state();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    if let Some(f) = work(&st, item) {
                        out.lock().unwrap().push((i, f));
                    }
                }
                drop(st);
            });
        }
    });
    let mut out = out.into_inner().unwrap();
    out.sort();
    out.into_iter().map(|(_, f)| f).collect()
}

/// When the signal of a case is sent.
#[derive(Clone, Copy, Debug)]
pub enum When {
    /// This long after the start.
    After(Duration),
    /// As soon as a second process (a helper) runs in the sandbox.
    HelperStarted,
    /// As soon as something appears in the sandbox's /dev/shm or /tmp.
    Created,
    /// As soon as the segment of this name is a FIFO (someone swapped it).
    Fifo(&'static str),
}

/// Whom the signal goes to.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// The example's process, as `kill PID` does.
    Process,
    /// Its whole process group, as Ctrl-C in a terminal does.
    Group,
}

/// A signal to send during a run.
#[derive(Clone, Copy, Debug)]
pub struct Attack {
    pub signal: Signal,
    pub when: When,
    pub target: Target,
    /// A second signal this long after the first (an impatient second Ctrl-C, or a
    /// SIGTERM after the SIGINT), while the example cleans up.
    pub again: Option<(Signal, Duration)>,
}

/// What became of one run in a sandbox.
pub struct Outcome {
    pub ran: process::Ran,
    /// The example's process id.
    pub pid: Option<u32>,
    /// The signal was sent while the example still ran.
    pub signalled: bool,
    /// Processes of the run still alive a grace period after the example ended.
    pub survivors: Vec<(i32, String)>,
    /// What the run left in /dev/shm and /tmp (the entries present before excluded).
    pub left: Vec<String>,
    /// The entries present before the run that are gone after it.
    pub removed: Vec<String>,
}

impl Outcome {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.ran.stderr).into_owned()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.ran.stdout).into_owned()
    }
    /// "exit status 2", "killed by signal 2 (SIGINT)", "timed out after 20 s".
    pub fn status(&self) -> String {
        match self.ran.status {
            Some(s) => process::describe(s),
            None => format!("timed out after {:.0?}; killed", self.ran.elapsed),
        }
    }
    /// The shell's view: the code, or 128 + N for signal N.
    pub fn code(&self) -> Option<i32> {
        self.ran.shell_code()
    }
    pub fn panicked(&self) -> bool {
        self.stderr().contains("panicked") || self.code() == Some(101)
    }
    /// A failure line `WHAT: WRONG; RUN` when anything is `wrong`, else `None`.
    pub fn verdict(&self, what: String, wrong: &[String]) -> Option<String> {
        (!wrong.is_empty()).then(|| format!("{what}: {}; {}", wrong.join("; "), self.show()))
    }

    /// What the run left behind (files, processes), if anything.
    pub fn leaks(&self) -> Option<String> {
        (!self.left.is_empty() || !self.survivors.is_empty())
            .then(|| format!("left {:?}, processes {:?}", self.left, self.survivors))
    }

    /// The run in a few lines, for a failure message.
    pub fn show(&self) -> String {
        let cut = |s: String| -> String {
            if s.chars().count() > 600 {
                format!("{}…", s.chars().take(600).collect::<String>())
            } else {
                s
            }
        };
        format!(
            "{}; stdout: {:?}; stderr: {:?}",
            self.status(),
            cut(self.stdout()),
            cut(self.stderr())
        )
    }
}

/// How long a run may take before it counts as hung.
pub const RUN_LIMIT: Duration = Duration::from_secs(40);
/// How long a run may take to end once signalled.
pub const SIGNAL_LIMIT: Duration = Duration::from_secs(15);
/// How long helpers may outlive the example (they get SIGTERM when it dies).
pub const HELPER_GRACE: Duration = Duration::from_secs(5);

/// Runs `example ARGS` in `sb`, sending `attack` if given; `limit` bounds the whole run.
pub fn run_in(
    sb: &Sandbox,
    example: &str,
    args: &[String],
    attack: Option<Attack>,
    limit: Duration,
) -> Outcome {
    run_with(sb, example, args, attack, limit, false)
}

/// [`run_in`]; with `closed_stdout`, the example's standard output is a pipe nobody
/// reads any more (as in `example | head -1` once `head` has gone): writing to it
/// fails with EPIPE.
pub fn run_with(
    sb: &Sandbox,
    example: &str,
    args: &[String],
    attack: Option<Attack>,
    limit: Duration,
    closed_stdout: bool,
) -> Outcome {
    let before = sb.entries();
    let mut cmd = sb.command(&bin(example), root());
    cmd.args(args).env("RUST_BACKTRACE", "0");
    if closed_stdout {
        use std::os::unix::process::CommandExt;
        // SAFETY: runs in the child between fork and exec; pipe, dup2 and close are
        // async-signal-safe, and the array lives on the child's stack.
        unsafe {
            cmd.pre_exec(|| {
                let mut fds = [0; 2];
                if libc::pipe(fds.as_mut_ptr()) != 0 || libc::dup2(fds[1], 1) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fds[0]);
                libc::close(fds[1]);
                Ok(())
            });
        }
    }
    let mut running = process::start(&mut cmd, Output::Separate, None).expect("start the example");
    let start = Instant::now();
    let pid = Pid::from_raw(running.id() as i32);
    let mut signalled = false;
    if let Some(a) = attack {
        let ready = || -> bool {
            match a.when {
                When::After(d) => start.elapsed() >= d,
                When::HelperStarted => sb.processes().len() >= 2,
                When::Created => sb.entries().len() > before.len(),
                When::Fifo(name) => std::fs::symlink_metadata(sb.segment(name))
                    .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type())),
            }
        };
        loop {
            if !running.running().unwrap_or(false) || start.elapsed() > limit {
                break;
            }
            if ready() {
                if running.running().unwrap_or(false) {
                    let send = |signal| match a.target {
                        Target::Process => kill(pid, signal).is_ok(),
                        Target::Group => killpg(pid, signal).is_ok(),
                    };
                    signalled = send(a.signal);
                    if let Some((second, after)) = a.again {
                        std::thread::sleep(after);
                        let _ = send(second);
                    }
                }
                break;
            }
            if matches!(a.when, When::After(_)) {
                std::thread::sleep(Duration::from_micros(200));
            } else {
                std::thread::yield_now();
            }
        }
    }
    let limit = if signalled {
        (start.elapsed() + SIGNAL_LIMIT).min(limit)
    } else {
        limit
    };
    while running.running().unwrap_or(false) && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(2));
    }
    // The example has ended (or is about to be killed): its helpers get a moment.
    let ended = Instant::now();
    let mut survivors = sb.processes();
    while !survivors.is_empty() && ended.elapsed() < HELPER_GRACE {
        // Only the example itself may remain if it timed out; it is counted there.
        if running.running().unwrap_or(false) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        survivors = sb.processes();
    }
    let timed_out = running.running().unwrap_or(false);
    if timed_out {
        survivors.retain(|(p, _)| *p != pid.as_raw());
    }
    let ran = running.finish(Duration::ZERO).expect("collect the run");
    sb.kill_all();
    let after = sb.entries();
    if knob("HOSTILE_VERBOSE", 0) != 0 {
        eprintln!(
            "hostile: ran {} {attack:?}: {:?} in {:.2?}",
            shown(example, args),
            ran.shell_code(),
            ran.elapsed
        );
    }
    Outcome {
        ran,
        pid: Some(pid.as_raw() as u32),
        signalled,
        survivors,
        left: after.difference(&before).cloned().collect(),
        removed: before.difference(&after).cloned().collect(),
    }
}

/// `run_in` a fresh sandbox.
pub fn run(example: &str, args: &[String], attack: Option<Attack>, limit: Duration) -> Outcome {
    let sb = Sandbox::new().expect("a sandbox");
    run_in(&sb, example, args, attack, limit)
}

/// `example a b c` for messages (a word over 60 characters shown by its length; the
/// seed printed with a failure repeats the exact line).
pub fn shown(example: &str, args: &[String]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|w| match w.chars().count() {
            n if n > 60 => format!("{}…[{n} chars]", w.chars().take(8).collect::<String>()),
            _ if w.is_empty() || w.contains(char::is_whitespace) => format!("{w:?}"),
            _ => w.clone(),
        })
        .collect();
    format!("{example} {}", words.join(" "))
}

/// Words to a vector of strings.
pub fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

/// Fails the test with `failures` (after printing how many cases ran); a randomized
/// class gives its `seed`, which the message shows with how to repeat the run.
pub fn report(class: &str, seed: Option<u64>, cases: usize, failures: &[String]) {
    eprintln!("hostile: {class}: {cases} cases, {} failed", failures.len());
    let repeat = seed.map_or(String::new(), |s| {
        format!(" (seed {s}: HOSTILE_SEED={s} with the same HOSTILE_* settings repeats it)")
    });
    assert!(
        failures.is_empty(),
        "{class}: {} of {cases} cases failed{repeat}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
