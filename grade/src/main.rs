//! `cargo run -p grade`: checks the book's exercises and says, per exercise, what passes
//! and what fails, with a hint where the evidence matches a known trap.
//!
//! ```text
//! cargo run -p grade -- [EXERCISE...] [--solutions | --from PATH] [--format text|json] [--timeout SECS]
//! cargo run -p grade -- list | hints [EXERCISE...] | starter [--check]
//! cargo run -p grade -- regress [--runs N] [--load] [EXERCISE...]
//! ```
//!
//! Each exercise is checked in its own process (this program run again as `_check NAME
//! RUN`), in its own process group, with a time limit. Whatever happens to it — a
//! panic, a hang, a crash — the grader then kills the whole group and removes every
//! segment and semaphore whose name carries this run's prefix (`/shmgrade-<PID>-`), so
//! nothing is left in `/dev/shm` (see `sweep`).
//!
//! `--from PATH` grades other files than `homework/src/` (a student's submission, a
//! case of the regression set), `--solutions` the reference solutions: both build a
//! copy of the grader with those files (see `tree`). `regress` runs the regression set
//! (`grade/regression/`, see `regress`). `--self-test` runs, instead of the exercises,
//! three checks of the grader itself that panic, abort and hang (`tests/homework.rs`
//! uses them).

mod exercises;
mod kit;
mod model;
mod regress;
mod report;
mod starter;
mod sweep;
mod tree;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use exercises::{Exercise, EXERCISES};
use report::{Outcome, Status};

const USAGE: &str = "usage: cargo run -p grade -- [EXERCISE...] [--solutions | --from PATH] [--format text|json] [--timeout SECS] | list | hints [EXERCISE...] | starter [--check] | regress [--runs N] [--load] [EXERCISE...]";

struct Options {
    exercises: Vec<&'static Exercise>,
    /// The arguments that choose exercises and output, passed on to a tree's grader.
    passed_on: Vec<String>,
    source: Option<tree::Source>,
    json: bool,
    timeout: Duration,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("_check") => return exercises::run_check(&args[1..]),
        Some(role) if role.starts_with('_') => return exercises::run_role(role, &args[1..]),
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
            for e in EXERCISES {
                let linux = if e.linux_only { ", Linux only" } else { "" };
                println!("  {:<22} ({} {}{linux})", e.name, e.number, e.chapter);
            }
            return ExitCode::SUCCESS;
        }
        Some("list") if args.len() > 1 => {
            return usage_error(&format!("list: unexpected '{}'", args[1]))
        }
        Some("list") => {
            for e in EXERCISES {
                println!("{}", e.name);
            }
            return ExitCode::SUCCESS;
        }
        Some("hints") => return hints(&args[1..]),
        Some("regress") => return regress::run(&args[1..]),
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
    match &options.source {
        Some(source) => tree::grade(source, &options.passed_on),
        None => grade(&options),
    }
}

pub fn usage_error(what: &str) -> ExitCode {
    eprintln!("grade: {what}; {USAGE}");
    ExitCode::from(2)
}

pub fn find(name: &str) -> Result<&'static Exercise, String> {
    EXERCISES
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| format!("no exercise '{name}' (see `cargo run -p grade -- list`)"))
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        exercises: Vec::new(),
        passed_on: Vec::new(),
        source: None,
        json: false,
        timeout: Duration::from_secs(30),
    };
    let mut words = args.iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "--solutions" if options.source.is_none() => options.source = Some(tree::solutions()?),
            "--from" if options.source.is_none() => {
                let path = words.next().ok_or("--from needs a file or directory")?;
                options.source = Some(tree::from_path(path)?);
            }
            "--solutions" | "--from" => {
                return Err("give one of --solutions and --from, once".into())
            }
            // The grader's own checks (tests/homework.rs): they panic, crash and hang.
            "--self-test" => {
                options.exercises.extend(exercises::SELF_TESTS);
                options.passed_on.push(w.clone());
            }
            "--format" => {
                let format = words.next().map(String::as_str);
                match format {
                    Some("json") => options.json = true,
                    Some("text") => options.json = false,
                    Some(other) => return Err(format!("--format: '{other}' is not text or json")),
                    None => return Err("--format needs text or json".into()),
                }
                options
                    .passed_on
                    .extend([w.clone(), format.unwrap_or_default().to_string()]);
            }
            "--timeout" => {
                let secs = words.next().ok_or("--timeout needs a number of seconds")?;
                match secs.parse::<u64>() {
                    Ok(s) if (1..=600).contains(&s) => options.timeout = Duration::from_secs(s),
                    _ => return Err(format!("--timeout: '{secs}' is not 1 to 600 seconds")),
                }
                options.passed_on.extend([w.clone(), secs.clone()]);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option '{flag}'")),
            name => {
                let e = find(name)?;
                // Naming an exercise twice checks it once.
                if !options.exercises.iter().any(|x| x.name == e.name) {
                    options.exercises.push(e);
                    options.passed_on.push(name.to_string());
                }
            }
        }
    }
    if options.exercises.is_empty() {
        options.exercises = match &options.source {
            // A file or directory given: the exercises it has files for.
            Some(s) if s.checked == "homework" => {
                let named: Vec<_> = EXERCISES
                    .iter()
                    .filter(|e| s.files.contains_key(e.name))
                    .collect();
                options
                    .passed_on
                    .extend(named.iter().map(|e| e.name.to_string()));
                named
            }
            _ => EXERCISES.iter().collect(),
        };
    }
    Ok(options)
}

/// `grade hints [EXERCISE...]`: every hint each check can give (the book's exercise
/// pages show this output).
fn hints(args: &[String]) -> ExitCode {
    let mut chosen = Vec::new();
    for a in args {
        match find(a) {
            Ok(e) => chosen.push(e),
            Err(why) => return usage_error(&format!("hints: {why}")),
        }
    }
    if chosen.is_empty() {
        chosen = EXERCISES.iter().collect();
    }
    for e in chosen {
        println!("{} {}:", e.number, e.name);
        for (i, h) in e.hints.iter().enumerate() {
            let when = if i == 0 {
                "when it runs out of time: "
            } else {
                ""
            };
            println!("  - {when}{}", h.0);
        }
    }
    ExitCode::SUCCESS
}

fn grade(options: &Options) -> ExitCode {
    let run = std::process::id().to_string();
    let label = std::env::var("SHMBOOK_GRADE_LABEL")
        .unwrap_or_else(|_| "your code in homework/src/".into());
    let checked = std::env::var("SHMBOOK_GRADE_CHECKED").unwrap_or_else(|_| "homework".into());
    // Exercises whose file did not compile (see `tree`): failed, not run.
    let broken: BTreeMap<String, String> = std::env::var("SHMBOOK_GRADE_BROKEN")
        .ok()
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    if !options.json {
        let n = options.exercises.len();
        println!(
            "checking {label} ({n} exercise{})",
            if n == 1 { "" } else { "s" }
        );
    }
    let run_dir = match sweep::RunDir::make(&run) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("grade: making this run's directory: {e}");
            return ExitCode::from(1);
        }
    };
    let exe = match private_copy(&run_dir.dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("grade: copying the grader for its checks: {e}");
            return ExitCode::from(1);
        }
    };
    let mut outcomes = Vec::new();
    for exercise in &options.exercises {
        let outcome = match broken.get(exercise.name) {
            Some(error) => Outcome {
                exercise,
                status: Status::Fail,
                message: error.clone(),
                hint: None,
                seconds: 0.0,
            },
            None => check_one(&exe, exercise, &run, options.timeout),
        };
        if !options.json {
            report::print_text(&outcome);
        }
        outcomes.push(outcome);
    }
    let passed = outcomes.iter().filter(|o| o.status == Status::Pass).count();
    if options.json {
        print!("{}", report::json(&checked, &outcomes));
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
    sweep::sweep_run(run);
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

/// Runs the check with the book's process runner (`shmbook::process`): in a process
/// group of its own, its pipes drained, at most `timeout`, then the whole group (every
/// worker the check started) killed and the check reaped. The one place the grader
/// starts a check.
fn spawn_check(
    exe: &Path,
    exercise: &Exercise,
    run: &str,
    timeout: Duration,
) -> std::io::Result<Finished> {
    let mut cmd = Command::new(exe);
    cmd.args(["_check", exercise.name, run])
        .env("RUST_BACKTRACE", "0");
    let ran = shmbook::process::run(&mut cmd, shmbook::process::Output::Separate, None, timeout)?;
    Ok(Finished {
        stdout: String::from_utf8_lossy(&ran.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&ran.stderr).into_owned(),
        timed_out: ran.status.is_none().then_some(timeout),
        status: ran.status,
    })
}

/// The checks run from a private copy of the grader in the run's directory (removed
/// with it).
///
/// `cargo run` replaces `target/debug/grade` whenever it builds the grader again. A
/// check process that starts its workers from that path would then find another
/// program, or none. The copy is made from the running program itself
/// (`/proc/self/exe` on Linux, which stays valid even when the file was replaced).
fn private_copy(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    let source = if cfg!(target_os = "linux") {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe()?
    };
    let copy = dir.join("grade");
    std::fs::copy(source, &copy)?;
    Ok(copy)
}
