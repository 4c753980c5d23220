//! `grade regress`: the grader's own regression set, `grade/regression/NAME/*.rs`.
//!
//! Each file is a whole submission for exercise NAME, written the way students write
//! them: `wrong_*.rs` must FAIL, `ok_*.rs` (correct, but not the reference solution)
//! must PASS. Its first line says what it is; its second what the grader must say:
//! `// expect: pass`, or `// expect: fail TEXT | OTHER TEXT`, where the FAIL's message
//! or its hint must contain one of the texts (the property that fails, or the trap the
//! evidence points to), so that a case which fails for another reason is not counted
//! as caught.
//!
//! The cases are graded in sets: set k holds the k-th case of every exercise, so the
//! whole set costs a few builds of the grader, not one per case. Each line of the
//! report gives a case, how often it was judged right, and its slowest check. `--runs N` grades
//! every set N times; `--load` keeps every core busy meanwhile (a verdict must not
//! depend on an idle machine); `--jobs J` grades J sets at once (2).
//!
//! ```text
//! cargo run -p grade -- regress [--runs N] [--load] [--jobs J] [EXERCISE...]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::exercises::{Exercise, EXERCISES};
use crate::tree;

/// One case and what the grader must say about it.
pub struct Case {
    pub exercise: &'static Exercise,
    pub path: PathBuf,
    /// The first line: what the case is.
    pub what: String,
    /// None: must pass; Some(texts): must fail with one of them in the message.
    pub fail_with: Option<Vec<String>>,
}

impl Case {
    /// `NAME/FILE.rs`.
    pub fn label(&self) -> String {
        format!(
            "{}/{}",
            self.exercise.name,
            self.path.file_name().unwrap_or_default().to_string_lossy()
        )
    }

    /// Whether the grader's status and message are the right verdict.
    fn judged_right(&self, status: &str, message: &str) -> bool {
        match &self.fail_with {
            None => status == "pass",
            Some(texts) => status == "fail" && texts.iter().any(|t| message.contains(t.as_str())),
        }
    }
}

/// Every case of `exercises`, in the order of the table, then of the file names.
pub fn cases(exercises: &[&'static Exercise]) -> Result<Vec<Case>, String> {
    let dir = tree::root().join("grade/regression");
    if !dir.is_dir() {
        return Err("there is no grade/regression/ in this copy (a hand-out has none)".into());
    }
    let mut all = Vec::new();
    for e in exercises {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(e.name))
            .map_err(|err| format!("grade/regression/{}: {err}", e.name))?
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        for path in files {
            all.push(read_case(e, &path)?);
        }
    }
    Ok(all)
}

fn read_case(exercise: &'static Exercise, path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let what = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("// ")
        .to_string();
    let expect = lines.next().unwrap_or("").strip_prefix("// expect: ");
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let fail_with = match expect {
        Some("pass") if stem.starts_with("ok_") => None,
        Some(rest) if stem.starts_with("wrong_") && rest.starts_with("fail ") => Some(
            rest["fail ".len()..]
                .split(" | ")
                .map(|t| t.trim().to_string())
                .collect(),
        ),
        _ => {
            return Err(format!(
                "{}: line 2 must be `// expect: pass` (for ok_*.rs) or `// expect: fail TEXT` (for wrong_*.rs)",
                path.display()
            ))
        }
    };
    Ok(Case {
        exercise,
        path: path.to_path_buf(),
        what,
        fail_with,
    })
}

struct Options {
    runs: u32,
    load: bool,
    jobs: usize,
    exercises: Vec<&'static Exercise>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        runs: 1,
        load: false,
        jobs: 2,
        exercises: Vec::new(),
    };
    let mut words = args.iter();
    while let Some(w) = words.next() {
        let mut number = |what: &str| -> Result<u32, String> {
            let v = words.next().ok_or(format!("{what} needs a number"))?;
            v.parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or(format!("{what}: '{v}' is not 1 to 1000"))
        };
        match w.as_str() {
            "--runs" => o.runs = number("--runs")?,
            "--jobs" => o.jobs = number("--jobs")? as usize,
            "--load" => o.load = true,
            flag if flag.starts_with('-') => {
                return Err(format!("regress: unknown option '{flag}'"))
            }
            name => o.exercises.push(crate::find(name)?),
        }
    }
    if o.exercises.is_empty() {
        o.exercises = EXERCISES.iter().collect();
    }
    Ok(o)
}

pub fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(o) => o,
        Err(why) => return crate::usage_error(&why),
    };
    let cases = match cases(&options.exercises) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("grade regress: {why}");
            return ExitCode::from(1);
        }
    };
    // Set k: the k-th case of every exercise.
    let mut sets: Vec<Vec<&Case>> = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        let k = seen.entry(c.exercise.name).or_default();
        if sets.len() <= *k {
            sets.push(Vec::new());
        }
        sets[*k].push(c);
        *k += 1;
    }
    let sources: Vec<tree::Source> = sets
        .iter()
        .enumerate()
        .map(|(k, set)| tree::Source {
            label: format!("regression set {}", k + 1),
            checked: "homework",
            files: set
                .iter()
                .map(|c| (c.exercise.name, c.path.clone()))
                .collect(),
        })
        .collect();
    let load = options.load.then(Load::start);
    println!(
        "grading {} cases ({} sets) {} time{}{}",
        cases.len(),
        sets.len(),
        options.runs,
        if options.runs == 1 { "" } else { "s" },
        if load.is_some() {
            ", every core kept busy"
        } else {
            ""
        }
    );
    // Each set's grader copy is built by the first job that needs it (the others wait
    // for that build), so that the sets built already are graded while the next is
    // compiled. Cargo builds one at a time in a target directory.
    let trees: Vec<OnceLock<Result<tree::Built, String>>> =
        sets.iter().map(|_| OnceLock::new()).collect();
    let broken: Mutex<Option<String>> = Mutex::new(None);
    // (case label) → (right, runs, a message of a wrong verdict, longest check in s)
    let tally: Mutex<BTreeMap<String, (u32, u32, String, f64)>> = Mutex::new(BTreeMap::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    // The longest sets first (by their checks' times in the last run), so that the
    // jobs end together rather than one long set last.
    let last = last_times();
    let cost = |k: usize| -> f64 {
        sets[k]
            .iter()
            .map(|c| last.get(&c.label()).unwrap_or(&0.0))
            .sum()
    };
    let mut order: Vec<usize> = (0..sets.len()).collect();
    order.sort_by(|a, b| cost(*b).total_cmp(&cost(*a)));
    let jobs: Vec<(usize, u32)> = (0..options.runs)
        .flat_map(|r| order.iter().map(move |&k| (k, r)))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.min(jobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(k, _)) = jobs.get(i) else { break };
                let built =
                    trees[k].get_or_init(|| tree::build(&sources[k]).map_err(|e| format!("{e:#}")));
                let built = match built {
                    Ok(b) => b,
                    Err(e) => {
                        broken
                            .lock()
                            .expect("no panic holds it")
                            .get_or_insert(e.clone());
                        next.store(jobs.len(), Ordering::SeqCst);
                        break;
                    }
                };
                let verdicts = grade_set(built, &sources[k], &sets[k]);
                let mut t = tally.lock().expect("no panic holds it");
                for (c, (status, message, seconds)) in sets[k].iter().zip(verdicts) {
                    let entry = t.entry(c.label()).or_default();
                    entry.1 += 1;
                    entry.3 = entry.3.max(seconds);
                    if c.judged_right(&status, &message) {
                        entry.0 += 1;
                    } else {
                        entry.2 = format!("{} {message}", status.to_uppercase());
                    }
                }
            });
        }
    });
    drop(load);
    if let Some(e) = broken.into_inner().expect("no panic holds it") {
        eprintln!("grade regress: {e}");
        return ExitCode::from(1);
    }
    let tally = tally.into_inner().expect("no panic holds it");
    keep_times(&tally);
    let mut wrong = 0;
    for c in &cases {
        let (right, runs, bad, slowest) = &tally[&c.label()];
        if right == runs {
            println!(
                "ok     {:<50} {right:>3}/{runs:<3} {slowest:5.1} s",
                c.label()
            );
        } else {
            wrong += 1;
            println!(
                "WRONG  {:<50} {right:>3}/{runs:<3} {slowest:5.1} s  ({}; got: {bad})",
                c.label(),
                c.what
            );
        }
    }
    let runs = options.runs;
    if wrong == 0 {
        println!(
            "all {} cases judged right in {runs} of {runs} runs",
            cases.len()
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "{wrong} of {} cases judged wrong at least once",
            cases.len()
        );
        ExitCode::from(1)
    }
}

/// Where each case's longest check of the last run is kept: it orders the next run's
/// jobs, nothing else.
fn times_file() -> PathBuf {
    tree::target_dir().join("grade-regress-seconds.json")
}

/// The times kept by the last run (none: the table's order).
fn last_times() -> BTreeMap<String, f64> {
    std::fs::read_to_string(times_file())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Keeps this run's times, with the last run's of cases not run now.
fn keep_times(tally: &BTreeMap<String, (u32, u32, String, f64)>) {
    let mut times = last_times();
    times.extend(tally.iter().map(|(label, t)| (label.clone(), t.3)));
    if let Ok(text) = serde_json::to_string_pretty(&times) {
        let _ = std::fs::write(times_file(), text);
    }
}

/// Grades one set once: (status, message and hint, seconds) for each of its cases, in order.
fn grade_set(
    built: &tree::Built,
    source: &tree::Source,
    set: &[&Case],
) -> Vec<(String, String, f64)> {
    let out = built
        .command(source)
        .args(["--format", "json"])
        .args(set.iter().map(|c| c.exercise.name))
        .output();
    let parsed: Option<serde_json::Value> = out
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok());
    set.iter()
        .map(|c| {
            let found = parsed.as_ref().and_then(|v| {
                v["exercises"]
                    .as_array()?
                    .iter()
                    .find(|x| x["name"] == c.exercise.name)
                    .map(|x| {
                        // The expected text may name the property (in the message) or
                        // the trap (in the hint, shown only when the evidence matches).
                        let hint = x["hint"].as_str().map(|h| format!(" (hint: {h})"));
                        (
                            x["status"].as_str().unwrap_or("").to_string(),
                            format!(
                                "{}{}",
                                x["message"].as_str().unwrap_or(""),
                                hint.unwrap_or_default()
                            ),
                            x["seconds"].as_f64().unwrap_or(0.0),
                        )
                    })
            });
            found.unwrap_or_else(|| ("error".into(), "the grader gave no verdict".into(), 0.0))
        })
        .collect()
}

/// Busy threads, one per core, until dropped.
struct Load {
    stop: std::sync::Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start() -> Load {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x: u64 = 1;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        }
                        std::hint::black_box(x);
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
