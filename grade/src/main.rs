//! `cargo run -p grade`: checks the book's exercises and says, per exercise, what passes
//! and what fails, with a hint where the failure is a known trap.
//!
//! ```text
//! cargo run -p grade -- [EXERCISE...] [--solutions] [--format text|json] [--timeout SECS]
//! cargo run -p grade -- list
//! cargo run -p grade -- starter [--check]
//! ```
//!
//! Each exercise is checked in its own process (this program run again as `_check NAME
//! RUN`), in its own process group, with a time limit. Whatever happens to it — a
//! panic, a hang, a crash — the grader then kills the whole group and removes every
//! segment and semaphore whose name carries this run's prefix (`/shmbook-h<PID>-`), so
//! nothing is left in `/dev/shm`. Names left by an earlier grader that was itself
//! killed are removed at the start of the next run.
//!
//! `--self-test` runs, instead of the exercises, three checks of the grader itself that
//! panic, abort and hang (`tests/homework.rs` uses them).
//!
//! `starter` writes `homework/src/*.rs` from `solutions/*.rs`: each region between
//! `// SOLUTION: begin` and `// SOLUTION: end` is dropped, and each `// STARTER: CODE`
//! line becomes `CODE`. `--check` only says whether the files are up to date.

mod checks;
mod report;
mod starter;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use report::{Outcome, Status};

/// One exercise: its module in `homework`, the chapter it belongs to, and its check.
pub struct Exercise {
    /// The module and file name, e.g. `sizing_pages`.
    pub name: &'static str,
    /// The chapter page, e.g. `sizing`.
    pub chapter: &'static str,
    /// Runs the check in the current process; see `checks`.
    pub check: fn(&checks::Ctx) -> checks::Verdict,
    /// The hint shown when the check hangs and is killed.
    pub hang_hint: &'static str,
}

const USAGE: &str = "usage: cargo run -p grade -- [EXERCISE...] [--solutions] [--format text|json] [--timeout SECS] | list | starter [--check]";

struct Options {
    exercises: Vec<&'static Exercise>,
    solutions: bool,
    json: bool,
    timeout: Duration,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("_check") => return checks::run_check(&args[1..]),
        Some(role) if role.starts_with('_') => return checks::run_role(role, &args[1..]),
        _ => {}
    }
    // The commands a person reads may be piped into `head`: end quietly when the reader
    // goes away, as command-line tools do, instead of panicking on a broken pipe. (Not
    // for the check roles above: their pipes are part of what they test.)
    // SAFETY: restoring SIGPIPE's default disposition has no preconditions; no other
    // thread exists yet that could be affected.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    match args.first().map(String::as_str) {
        Some("--help" | "-h" | "help") => {
            println!("grade: checks the book's exercises\n{USAGE}");
            println!("exercises:");
            for e in checks::EXERCISES {
                println!("  {:<22} ({})", e.name, e.chapter);
            }
            return ExitCode::SUCCESS;
        }
        Some("list") if args.len() > 1 => {
            return usage_error(&format!("list: unexpected '{}'", args[1]))
        }
        Some("list") => {
            for e in checks::EXERCISES {
                println!("{}", e.name);
            }
            return ExitCode::SUCCESS;
        }
        Some("starter") => {
            return match args[1..].iter().map(String::as_str).collect::<Vec<_>>()[..] {
                [] => starter::run(false),
                ["--check"] => starter::run(true),
                _ => usage_error(&format!("starter: unexpected '{}'", args[1])),
            }
        }
        _ => {}
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(why) => return usage_error(&why),
    };
    if options.solutions != cfg!(feature = "solutions") {
        return rerun_with_features(&args, options.solutions);
    }
    grade(&options)
}

fn usage_error(what: &str) -> ExitCode {
    eprintln!("grade: {what}; {USAGE}");
    ExitCode::from(2)
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        exercises: Vec::new(),
        solutions: false,
        json: false,
        timeout: Duration::from_secs(30),
    };
    let mut words = args.iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "--solutions" => options.solutions = true,
            // The grader's own checks (tests/homework.rs): they panic, crash and hang.
            "--self-test" => options.exercises.extend(checks::SELF_TESTS),
            "--format" => match words.next().map(String::as_str) {
                Some("json") => options.json = true,
                Some("text") => options.json = false,
                Some(other) => return Err(format!("--format: '{other}' is not text or json")),
                None => return Err("--format needs text or json".into()),
            },
            "--timeout" => {
                let secs = words.next().ok_or("--timeout needs a number of seconds")?;
                match secs.parse::<u64>() {
                    Ok(s) if (1..=600).contains(&s) => options.timeout = Duration::from_secs(s),
                    _ => return Err(format!("--timeout: '{secs}' is not 1 to 600 seconds")),
                }
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option '{flag}'")),
            name => {
                let Some(e) = checks::EXERCISES.iter().find(|e| e.name == name) else {
                    return Err(format!(
                        "no exercise '{name}' (see `cargo run -p grade -- list`)"
                    ));
                };
                // Naming an exercise twice checks it once.
                if !options.exercises.iter().any(|x| x.name == e.name) {
                    options.exercises.push(e);
                }
            }
        }
    }
    if options.exercises.is_empty() {
        options.exercises = checks::EXERCISES.iter().collect();
    }
    Ok(options)
}

/// The solutions are compiled only with the `solutions` feature: build and run the
/// grader again with (or without) it, with the same arguments.
fn rerun_with_features(args: &[String], solutions: bool) -> ExitCode {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    if solutions
        && !std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../solutions")).is_dir()
    {
        eprintln!("grade: --solutions: there is no solutions/ directory in this copy (a hand-out has none)");
        return ExitCode::from(2);
    }
    // Cargo should now run the other build; should it run this one again, stop rather
    // than start ourselves without end.
    if std::env::var_os("SHMBOOK_GRADE_RERUN").is_some() {
        eprintln!(
            "grade: cargo ran a grader built {} the solutions feature; try `cargo clean -p grade`",
            if solutions { "without" } else { "with" }
        );
        return ExitCode::from(1);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.env("SHMBOOK_GRADE_RERUN", "1");
    cmd.args(["run", "-q", "--manifest-path", manifest]);
    if solutions {
        cmd.args(["--features", "solutions"]);
    }
    cmd.arg("--").args(args);
    match cmd.status() {
        Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("grade: could not run cargo: {e}");
            ExitCode::from(1)
        }
    }
}

fn grade(options: &Options) -> ExitCode {
    let run = std::process::id().to_string();
    checks::sweep_stale();
    let what = if options.solutions {
        "the reference solutions in solutions/"
    } else {
        "your code in homework/src/"
    };
    if !options.json {
        let n = options.exercises.len();
        println!(
            "checking {what} ({n} exercise{})",
            if n == 1 { "" } else { "s" }
        );
    }
    let exe = match PrivateCopy::make() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("grade: copying the grader for its checks: {e}");
            return ExitCode::from(1);
        }
    };
    let mut outcomes = Vec::new();
    for exercise in &options.exercises {
        let outcome = check_one(&exe.0, exercise, &run, options.timeout);
        if !options.json {
            report::print_text(&outcome);
        }
        outcomes.push(outcome);
    }
    let passed = outcomes.iter().filter(|o| o.status == Status::Pass).count();
    if options.json {
        print!("{}", report::json(options.solutions, &outcomes));
    } else {
        let skipped = outcomes.iter().filter(|o| o.status == Status::Skip).count();
        let failed = outcomes.len() - passed - skipped;
        let skipped = if skipped > 0 {
            format!(", {skipped} skipped (not counted as passed)")
        } else {
            String::new()
        };
        println!("{passed} passed, {failed} failed{skipped}");
    }
    if passed == outcomes.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs one exercise's check in a process group of its own, bounded by `timeout`, then
/// kills whatever is left of the group and removes the run's segments.
fn check_one(exe: &Path, exercise: &'static Exercise, run: &str, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let result = spawn_check(exe, exercise, run, timeout);
    checks::sweep_run(run);
    let seconds = start.elapsed().as_secs_f64();
    let (status, message, hint) = match result {
        Ok(finished) => report::interpret(exercise, &finished),
        Err(e) => (Status::Fail, format!("could not run the check: {e}"), None),
    };
    Outcome {
        exercise,
        status,
        message,
        hint,
        seconds,
    }
}

/// What a check process left: its output, how it ended, and whether it was killed.
pub struct Finished {
    pub stdout: String,
    pub stderr: String,
    pub status: Option<std::process::ExitStatus>,
    pub timed_out: Option<Duration>,
}

fn spawn_check(
    exe: &Path,
    exercise: &Exercise,
    run: &str,
    timeout: Duration,
) -> std::io::Result<Finished> {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(exe)
        .args(["_check", exercise.name, run])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "0")
        .process_group(0)
        .spawn()?;
    let group = child.id() as libc::pid_t;
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = collect(child.stdout.take().map(|p| Box::new(p) as _));
    let err = collect(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    let mut timed_out = None;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if start.elapsed() >= timeout {
            timed_out = Some(timeout);
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The check and every process it started share the group: end them all, so that
    // no helper keeps a segment mapped or a pipe open.
    // SAFETY: kill(2) on a negative pid signals the process group we created above.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let status = match status {
        Some(s) => Some(s),
        None => {
            child.wait()?;
            None
        }
    };
    Ok(Finished {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        status,
        timed_out,
    })
}

/// The checks run from a private copy of the grader, removed when the run ends.
///
/// `cargo run` replaces `target/debug/grade` whenever it builds the grader again, for
/// instance with the `solutions` feature for another run at the same time. A check
/// process that starts its workers from that path would then find another program, or
/// none. The copy is made from the running program itself (`/proc/self/exe` on Linux,
/// which stays valid even when the file was replaced).
struct PrivateCopy(PathBuf);

impl PrivateCopy {
    const PREFIX: &'static str = "shmbook-grade-";

    fn make() -> std::io::Result<PrivateCopy> {
        let dir = std::env::temp_dir();
        Self::remove_stale(&dir);
        let source = if cfg!(target_os = "linux") {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe()?
        };
        let copy = dir.join(format!("{}{}", Self::PREFIX, std::process::id()));
        std::fs::copy(source, &copy)?;
        Ok(PrivateCopy(copy))
    }

    /// Removes the copies of graders that were killed before they could.
    fn remove_stale(dir: &Path) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(Self::PREFIX)
                .and_then(|p| p.parse::<libc::pid_t>().ok())
            else {
                continue;
            };
            // SAFETY: signal 0 only checks whether the process exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
