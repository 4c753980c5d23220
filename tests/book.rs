//! `cargo test --test book`: runs every transcript in the book and compares its output.
//!
//! This is the book's promise made executable. For every `console` block in `src/`:
//! - each `$` command is run for real (a command the suite cannot run is a failure,
//!   never a silent pass), with a time limit, in its own process group;
//! - its output is compared with the block, line by line (see `support/transcript.rs`
//!   for the marks that stand for varying parts);
//! - every character of the compared lines is changed once, and each changed transcript
//!   must fail to match: no line of the book passes vacuously.
//!
//! Then: every example under `examples/` must be run by at least one transcript, and
//! `/dev/shm` must hold nothing the suite's processes made (a leaked segment or named
//! semaphore; entries other programs make meanwhile are not counted, see
//! `runner::suite_leftovers`). A segment name a transcript types (`/shmbook-WORD`) is
//! made unique to the run (`runner::unique_typed_names`), so two runs can share a
//! machine; the harness checks show both (`harness_checks`).
//!
//! `cargo test --test book -- segments` runs only the pages whose path contains
//! `segments` (`-- harness`: only the harness checks). `BLESS=1 cargo test --test
//! book` rewrites the expected output of each failing transcript from its real run
//! (`transcript::bless`), in place, for review like any other change.
//!
//! Why a small harness of our own rather than `trycmd`: trycmd counts a `$` line whose
//! first word is not a registered binary (such as `cargo`) as passed without running
//! it, and reads a fence without a language as a test. The book's commands are the ones
//! a reader pastes (`cargo run -q --example …`), so they would all have passed unrun.
//! This harness knows exactly two command forms and fails on anything else; it adds
//! named marks a reader can understand (`[NAME]`, `[TIME]`), the leak check, the
//! coverage check and the mutation check, in about 400 lines with `regex` as its only
//! dependency.

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;
#[path = "support/transcript.rs"]
#[allow(dead_code)]
mod transcript;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use transcript::{Block, Step};

struct Outcome {
    step: Step,
    /// How long the step took, in seconds.
    seconds: f64,
    failure: Option<String>,
    /// Why the step was not run: a program its block needs is missing (never on CI).
    skipped: Option<String>,
    /// Under `BLESS=1`: the expected output rewritten from the real run.
    blessed: Option<Vec<String>>,
}

/// Set to a directory of pages, the suite reads its transcripts there instead of in
/// `src/` and skips the book-wide checks: the harness checks run the suite on pages
/// of their own (`tests/fixtures/book/`) this way.
const PAGES_VAR: &str = "SHMBOOK_BOOK_PAGES";

/// How many blocks run at once. Most steps wait on their processes (helpers, timeouts)
/// rather than compute, so more than the two cores of the book's machine pay off; the
/// timed examples print ratios and marks, never times the suite compares.
const WORKERS: usize = 4;

/// Set to a number, how many blocks run at once instead of [`WORKERS`] (1: one step
/// at a time, to see what each one takes alone).
const WORKERS_VAR: &str = "SHMBOOK_BOOK_WORKERS";

fn workers() -> usize {
    std::env::var(WORKERS_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(WORKERS)
}

/// The blocks in groups, in the order the workers take them (from the end): the blocks
/// that type one segment name make one group, run by one worker in page order
/// (`runner::groups_by_typed_names`); every other block is a group of its own, as it
/// shares nothing with the others. (The grader's commands share nothing either: each
/// grades in a run of its own, `/shmgrade-PID-`, and builds a copy of the grader for
/// other files under a name of its own.)
///
/// The groups that took longest in the last run go first (`took`, see
/// `runner::STEP_TIMES`),
/// so that a long one never starts last and holds up the end; a step not timed yet
/// counts as the longest. The times only choose the order: every step runs, every run.
fn schedule(blocks: Vec<Block>, took: &BTreeMap<String, f64>) -> Vec<Vec<Block>> {
    let groups = runner::groups_by_typed_names(blocks, |b| {
        b.steps.iter().map(|s| s.command.as_str()).collect()
    });
    let cost = |g: &Vec<Block>| -> f64 {
        g.iter()
            .flat_map(|b| &b.steps)
            .map(|s| took.get(&step_key(s)).copied().unwrap_or(f64::INFINITY))
            .sum()
    };
    // Shortest first, as the workers take from the end; equal ones (all of them, on a
    // first run) in page order from the end.
    let mut groups: Vec<(f64, Vec<Block>)> =
        groups.into_iter().rev().map(|g| (cost(&g), g)).collect();
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    groups.into_iter().map(|(_, g)| g).collect()
}

/// A step as `runner::STEP_TIMES` knows it: its page and command (not its line, which
/// moves when the page is edited above it).
fn step_key(step: &Step) -> String {
    format!("{}\t{}", step.file, step.command)
}

/// Writes the times of this run's steps (a file written whole and renamed into place,
/// so that a run at the same time reads one run's times or the other's).
fn write_step_times(outcomes: &[Outcome]) {
    let mut text = String::new();
    for o in outcomes.iter().filter(|o| o.skipped.is_none()) {
        text.push_str(&format!("{}\t{:.2}\n", step_key(&o.step), o.seconds));
    }
    let path = runner::profile_dir().join(runner::STEP_TIMES);
    let part = path.with_extension(format!("{}", std::process::id()));
    if std::fs::write(&part, text).is_ok() {
        let _ = std::fs::rename(&part, &path);
    }
}

fn main() -> ExitCode {
    let start = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let fixture = std::env::var_os(PAGES_VAR).map(PathBuf::from);
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");

    let mut pages = Vec::new();
    collect_pages(fixture.as_deref().unwrap_or(&root.join("src")), &mut pages);
    pages.sort();

    let mut blocks: Vec<Block> = Vec::new();
    let mut problems = Vec::new();
    for page in &pages {
        let rel = page
            .strip_prefix(&root)
            .unwrap_or(page)
            .display()
            .to_string();
        let text = std::fs::read_to_string(page).unwrap_or_default();
        let (b, p) = transcript::parse(&rel, &text);
        problems.extend(p);
        if filter.as_deref().is_none_or(|f| rel.contains(f)) {
            blocks.extend(b);
        }
    }

    // Every name an example makes through shmbook::names::unique, in any process the
    // suite starts, is appended here: the leak check counts those and nothing else.
    let name_log = runner::start_name_log("book");
    let before = runner::dev_shm_entries();
    let steps: usize = blocks.iter().map(|b| b.steps.len()).sum();
    println!(
        "\nrunning {steps} transcript commands from {} blocks",
        blocks.len()
    );

    // Blocks run in parallel (WORKERS at a time), the steps of a block in order, and the
    // harness checks beside them (see `harness_checks`).
    let queue = Mutex::new(schedule(blocks, &runner::read_step_times()));
    let outcomes = Mutex::new(Vec::<Outcome>::new());
    // The steps running now, so that one running long (a first build of the grader,
    // say) is announced rather than looking hung.
    let running = Mutex::new(Vec::<(Instant, String)>::new());
    let workers = workers();
    let workers_left = AtomicUsize::new(workers);
    let harness = fixture.is_none() && filter.as_deref().is_none_or(|f| f == "harness");
    let checks = std::thread::scope(|s| {
        let checks = s.spawn(|| {
            if harness {
                harness_checks(&root)
            } else {
                Vec::new()
            }
        });
        s.spawn(|| announce_long_steps(&running, &workers_left));
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some(group) = next else {
                        workers_left.fetch_sub(1, Ordering::Relaxed);
                        break;
                    };
                    for block in group {
                        // A block that needs a program this machine lacks (Redis, MPI) is
                        // skipped and counted as ignored — except on CI, where it fails.
                        let missing = runner::missing_programs(&block.needs);
                        let why = (!missing.is_empty()).then(|| {
                            let hints: Vec<String> =
                                missing.iter().map(|p| runner::install_hint(p)).collect();
                            format!("needs {}: {}", missing.join(", "), hints.join("; "))
                        });
                        for step in block.steps {
                            let began = Instant::now();
                            let (failure, skipped, blessed) = match &why {
                                None => {
                                    let at =
                                        format!("{}:{}  $ {}", step.file, step.line, step.command);
                                    running.lock().unwrap().push((Instant::now(), at.clone()));
                                    let checked = check_step(&root, &step, bless);
                                    running.lock().unwrap().retain(|(_, a)| *a != at);
                                    match checked {
                                        Ok(blessed) => (None, None, blessed),
                                        Err(f) => (Some(f), None, None),
                                    }
                                }
                                Some(why) if runner::in_ci() => (
                                    Some(format!("CI must run this transcript; it {why}")),
                                    None,
                                    None,
                                ),
                                Some(why) => (None, Some(why.clone()), None),
                            };
                            let mark = match (&failure, &skipped, &blessed) {
                                (Some(_), _, _) => "FAIL",
                                (None, Some(_), _) => "skip",
                                (None, None, Some(_)) => "BLESS",
                                (None, None, None) => "ok  ",
                            };
                            let seconds = began.elapsed().as_secs_f64();
                            println!(
                                "{mark} {}:{}  $ {}  ({seconds:.1} s)",
                                step.file, step.line, step.command,
                            );
                            outcomes.lock().unwrap().push(Outcome {
                                step,
                                seconds,
                                failure,
                                skipped,
                                blessed,
                            });
                        }
                    }
                }
            });
        }
        checks.join().expect("the harness checks do not panic")
    });
    let outcomes = outcomes.into_inner().unwrap();
    if filter.is_none() && fixture.is_none() {
        write_step_times(&outcomes);
    }

    let mut failures: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.file, p.line, p.what))
        .collect();
    for o in &outcomes {
        if let Some(f) = &o.failure {
            failures.push(format!(
                "{}:{}: $ {}\n{f}",
                o.step.file, o.step.line, o.step.command
            ));
        }
    }

    let blessed = write_blessed(&root, &outcomes);
    if let Err(e) = &blessed {
        failures.push(e.clone());
    }

    // Every example is shown running somewhere in the book.
    if filter.is_none() && fixture.is_none() {
        let run: BTreeSet<String> = outcomes
            .iter()
            .filter_map(|o| runner::example_of(&o.step.command))
            .collect();
        for example in runner::all_examples(&root) {
            if !run.contains(&example) {
                failures.push(format!(
                    "examples/{example}: no transcript in src/ runs this example"
                ));
            }
        }
    }

    let leaked = runner::suite_leftovers(&before, &name_log);
    let _ = std::fs::remove_file(&name_log);
    if leaked.is_empty() {
        println!("leak check: nothing the transcripts made is left in /dev/shm");
    } else {
        failures.push(format!(
            "the transcripts left these in /dev/shm (removed now): {leaked:?}"
        ));
        runner::remove_leftovers(&leaked);
    }

    // The harness's own promises, on pages of their own (they ran beside the blocks;
    // their runs' planted entries were removed before the leak check above).
    let mut checks_passed = 0;
    for (what, result, seconds) in checks {
        match result {
            Ok(()) => {
                println!("ok   harness: {what}  ({seconds:.1} s)");
                checks_passed += 1;
            }
            Err(e) => {
                println!("FAIL harness: {what}  ({seconds:.1} s)");
                failures.push(format!("harness: {what}\n{e}"));
            }
        }
    }

    let ignored: Vec<&Outcome> = outcomes.iter().filter(|o| o.skipped.is_some()).collect();
    let failed_steps = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let passed = outcomes.len() - ignored.len() - failed_steps + checks_passed;
    let mut reasons: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for o in &ignored {
        let why = o.skipped.as_deref().unwrap_or_default();
        reasons
            .entry(why)
            .or_default()
            .push(format!("{}:{}", o.step.file, o.step.line));
    }
    for (why, steps) in reasons {
        println!(
            "\nskipped (counted as ignored) {} transcript command(s), {}: {why}; the other transcripts ran",
            steps.len(),
            steps.join(" ")
        );
    }
    if let Ok(files) = &blessed {
        if !files.is_empty() {
            println!(
                "\nBLESS=1: rewrote the expected output of failing transcripts in {}; \
                 review the diff (git diff) like code before you commit it",
                files.join(", ")
            );
        }
    }
    runner::finish(&failures, passed, ignored.len(), start)
}

/// Says once, for every step that has run for 20 s, that it is still running, until
/// the workers are done.
fn announce_long_steps(running: &Mutex<Vec<(Instant, String)>>, workers_left: &AtomicUsize) {
    let mut told = BTreeSet::new();
    while workers_left.load(Ordering::Relaxed) > 0 {
        std::thread::sleep(Duration::from_millis(250));
        for (since, at) in running.lock().unwrap().iter() {
            if since.elapsed() > Duration::from_secs(20) && told.insert(at.clone()) {
                println!("...  {at}  (still running after 20 s: a first build, or a busy machine)");
            }
        }
    }
}

fn collect_pages(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_pages(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// Runs one step and compares; Err says what differs. Under `bless`, a step whose
/// output differs gets its expected output rewritten from the real run (returned),
/// provided the rewritten lines pass the mutation check too.
fn check_step(root: &Path, step: &Step, bless: bool) -> Result<Option<Vec<String>>, String> {
    let (command, typed) = runner::unique_typed_names(&step.command)?;
    let actual = runner::restore_typed_names(&runner::run(root, &command)?, &typed)?;
    let mut expected = step.expected.clone();
    let mut blessed = None;
    if !transcript::matches(&expected, &actual) {
        if !bless {
            return Err(format!(
                "{}\n--- expected (from the book)\n{}\n--- actual\n{}",
                transcript::first_difference(&expected, &actual),
                expected.join("\n"),
                actual.join("\n")
            ));
        }
        expected = transcript::bless(&expected, &actual);
        blessed = Some(expected.clone());
    }
    let (_tried, survivors) = transcript::mutation_check(&expected, &actual);
    if !survivors.is_empty() {
        return Err(format!(
            "these changed lines would still pass; make the transcript stricter: {survivors:?}"
        ));
    }
    Ok(blessed)
}

/// Writes the blessed outputs into their pages; returns the pages changed. Each page
/// is edited from its last step up, so that the line numbers above stay right, and
/// only where the `$` line is still the command that ran.
fn write_blessed(root: &Path, outcomes: &[Outcome]) -> Result<Vec<String>, String> {
    let mut by_file: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.blessed.is_some()) {
        by_file.entry(&o.step.file).or_default().push(o);
    }
    let mut written = Vec::new();
    for (file, mut steps) in by_file {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("bless: {file}: {e}"))?;
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        steps.sort_by_key(|o| std::cmp::Reverse(o.step.line));
        for o in steps {
            let at = o.step.line - 1;
            let dollar = lines.get(at).cloned().unwrap_or_default();
            if dollar.trim_start() != format!("$ {}", o.step.command) {
                return Err(format!(
                    "bless: {file}:{} is no longer `$ {}`; not rewritten",
                    o.step.line, o.step.command
                ));
            }
            let indent = &dollar[..dollar.len() - dollar.trim_start().len()];
            let new = o.blessed.iter().flatten().map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{indent}{l}")
                }
            });
            lines.splice(at + 1..at + 1 + o.step.expected.len(), new);
        }
        let mut out = lines.join("\n");
        if text.ends_with('\n') {
            out.push('\n');
        }
        std::fs::write(&path, out).map_err(|e| format!("bless: writing {file}: {e}"))?;
        written.push(file.to_string());
    }
    Ok(written)
}

/// The harness's own promises, each shown by running the suite itself (this binary)
/// on pages of `tests/fixtures/book/`:
/// - two runs at once pass, though their pages type the same segment names, and
///   entries that other programs create in /dev/shm while they run (planted here, once
///   both have started) do not fail them;
/// - a segment an example leaves behind fails the run, and is named.
fn harness_checks(root: &Path) -> Vec<(&'static str, Result<(), String>, f64)> {
    let fixtures = root.join("tests/fixtures/book");
    let mut out = Vec::new();

    let began = Instant::now();
    let two = (0..2)
        .map(|_| Suite::start(&fixtures.join("two-runs")))
        .collect::<Vec<_>>();
    let planted = two
        .iter()
        .all(|s| s.started())
        .then(plant_other_programs_entries);
    let results: Vec<_> = two.into_iter().map(Suite::finish).collect();
    remove_planted(planted.unwrap_or_default());
    let both = results
        .iter()
        .enumerate()
        .try_for_each(|(k, (ok, output))| match ok {
            true => Ok(()),
            false => Err(format!("run {} of 2 failed:\n{output}", k + 1)),
        });
    out.push((
        "two runs at once, typing the same names, with other programs' entries appearing in /dev/shm",
        both,
        began.elapsed().as_secs_f64(),
    ));

    let began = Instant::now();
    let leak = Suite::start(&fixtures.join("leak"));
    let pid = leak.pid;
    let planted = leak.started().then(plant_other_programs_entries);
    let (ok, output) = leak.finish();
    let others = planted.clone().unwrap_or_default();
    remove_planted(planted.unwrap_or_default());
    let left = format!("shmbook-leak-r{pid}");
    let verdict = if ok {
        Err(format!(
            "the run passed, though an example left {left}:\n{output}"
        ))
    } else if !output.contains(&format!(
        "the transcripts left these in /dev/shm (removed now): [\"{left}\"]"
    )) {
        Err(format!(
            "the run failed, but not (only) by naming {left}:\n{output}"
        ))
    } else if others.iter().any(|o| output.contains(o.as_str())) {
        Err(format!(
            "the run counted another program's entry:\n{output}"
        ))
    } else if Path::new("/dev/shm").join(&left).exists() {
        Err(format!("the run did not remove {left}"))
    } else {
        Ok(())
    };
    out.push((
        "a segment an example leaves fails the run, and only that one",
        verdict,
        began.elapsed().as_secs_f64(),
    ));
    out
}

/// A run of this suite on the pages in one directory, as a child process.
struct Suite {
    child: std::process::Child,
    pid: u32,
    lines: mpsc::Receiver<String>,
    output: String,
}

/// How long a harness check's run of the suite may take.
const SUITE_TIMEOUT: Duration = Duration::from_secs(120);

impl Suite {
    fn start(pages: &Path) -> Suite {
        let mut child = Command::new(std::env::current_exe().expect("the suite's own path"))
            .env(PAGES_VAR, pages)
            .env_remove("BLESS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the suite again");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Suite {
            pid: child.id(),
            child,
            lines,
            output: String::new(),
        }
    }

    /// Waits (bounded) until the run has taken its picture of /dev/shm and started.
    fn started(&self) -> bool {
        let deadline = Instant::now() + SUITE_TIMEOUT;
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if l.starts_with("running ") {
                return true;
            }
        }
        false
    }

    /// Waits (bounded, then kills it) for the run's end: (passed, its output).
    fn finish(mut self) -> (bool, String) {
        let deadline = Instant::now() + SUITE_TIMEOUT;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(l) => {
                    self.output.push_str(&l);
                    self.output.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    self.output.push_str("(timed out; killed)\n");
                    break;
                }
            }
        }
        let ok = self.child.wait().is_ok_and(|s| s.success());
        (ok, self.output)
    }
}

/// Creates entries in /dev/shm as other programs on the machine would: one named like
/// another run's example segment, one like another run's typed name, a semaphore and
/// a name of no book at all. Returns their names.
fn plant_other_programs_entries() -> Vec<String> {
    let me = std::process::id();
    let names = vec![
        format!("shmbook-segments-{me}-0"),
        format!("shmbook-twice-r{me}"),
        format!("sem.shmbook-counter-{me}-1"),
        format!("another-program-{me}"),
    ];
    for n in &names {
        std::fs::write(Path::new("/dev/shm").join(n), b"not the suite's")
            .expect("create an entry in /dev/shm");
    }
    names
}

fn remove_planted(names: Vec<String>) {
    for n in names {
        let _ = std::fs::remove_file(Path::new("/dev/shm").join(n));
    }
}
