//! Bad input to any example: exit status 2, a short message on standard error that says
//! what is wrong and how to call the example (clap's `error: …`, `Usage: …` and where
//! to find `--help`), nothing on standard output, no panic, nothing left in /dev/shm.
//!
//! The probes are derived from each example's `--help` (clap's `Commands:` list) and
//! from each subcommand's own help, hidden helper roles included (their names are read
//! from the example's sources), so a new subcommand or option is covered without
//! editing this file. For the example: no subcommand, an unknown one. For every
//! subcommand `CMD`:
//! - `CMD --no-such-option`, and `CMD stray-word` when it takes no positional word;
//! - `CMD` without its required arguments (when it has some);
//! - for every option taking a value: the value missing, the value `%%` (not for
//!   free-form values: PATH, TEXT, FILE, DIR), and the option given twice;
//! - for every segment name (placeholder NAME): `/.`, `/..`, `..`, `/`, ``, `/a/b`, a
//!   name over the portable 31 characters, and one with a space.
//!
//! Sizes and counts out of range are probed by `tests/hostile.rs` (class 5).

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;

#[path = "hostile/help.rs"]
#[allow(dead_code)]
mod help;

use std::path::Path;

const FREE_FORM: &[&str] = &["PATH", "TEXT", "FILE", "DIR"];

/// Words that are not segment names.
const BAD_NAMES: &[&str] = &[
    "/.",
    "/..",
    "..",
    "/",
    "",
    "/a/b",
    "/shmbook-this-name-is-longer-than-31",
    "/a b",
];

/// The probes for one subcommand.
fn probes(spec: &help::Spec) -> Vec<Vec<String>> {
    let cmd = &spec.command;
    let mut cases = vec![vec![cmd.clone(), "--no-such-option".into()]];
    if spec.positionals().next().is_none() {
        cases.push(vec![cmd.clone(), "stray-word".into()]);
    }
    if spec.args.iter().any(|a| a.required) {
        cases.push(vec![cmd.clone()]);
    }
    // The required arguments, filled in with a plausible value, so that a probe of one
    // option is not refused for a missing other one only.
    let mut base = vec![cmd.clone()];
    for a in spec.args.iter().filter(|a| a.required) {
        if !a.flag.is_empty() {
            base.push(a.flag.clone());
        }
        base.push(plausible(a));
    }
    for a in spec.options().filter(|a| !a.value.is_empty()) {
        let others: Vec<String> = strip_option(&base, &a.flag);
        let mut missing = others.clone();
        missing.push(a.flag.clone());
        cases.push(missing);
        if !FREE_FORM.contains(&a.value.as_str()) {
            let mut bad = others.clone();
            bad.extend([a.flag.clone(), "%%".into()]);
            cases.push(bad);
        }
        if a.value.contains("NAME") {
            for bad in BAD_NAMES {
                let mut line = strip_option(&base, &a.flag);
                line.extend([a.flag.clone(), bad.to_string()]);
                cases.push(line);
            }
        }
        if !a.repeatable {
            let mut twice = others;
            twice.extend([a.flag.clone(), plausible(a), a.flag.clone(), plausible(a)]);
            cases.push(twice);
        }
    }
    cases
}

/// `args` without `flag` and its value.
fn strip_option(args: &[String], flag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for w in args {
        if skip {
            skip = false;
        } else if w == flag {
            skip = true;
        } else {
            out.push(w.clone());
        }
    }
    out
}

/// A value the argument accepts (or at least could): its first choice, a segment name
/// for a NAME, a small number otherwise.
pub fn plausible(a: &help::Arg) -> String {
    if let Some(c) = a.choices.first() {
        return c.clone();
    }
    match a.value.as_str() {
        v if v.contains("NAME") || v.contains("PEER") => "/shmbook-badinput".into(),
        v if v.contains("PORT") || v.contains("ADDR") => "127.0.0.1:6379".into(),
        "BYTES" | "SIZE" => "4096".into(),
        _ => "1".into(),
    }
}

/// How many probes run at once: each is a short process start, mostly waiting.
const PROBERS: usize = 4;

/// Runs the example with `case` as its arguments; what is wrong with its answer, if
/// anything.
fn probe(example: &str, case: &[String]) -> Option<String> {
    let bin = runner::examples_dir().join(example);
    let args: Vec<&str> = case.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = help::run(&bin, &args);
    let shown = format!("{example} {}", args.join(" "));
    let mut wrong = Vec::new();
    if code != Some(2) {
        wrong.push(format!("exit status {code:?}, expected 2"));
    }
    if !stdout.is_empty() {
        wrong.push(format!("printed on standard output: {stdout:?}"));
    }
    let usage = stderr.contains(&format!("Usage: cargo run -q --example {example} -- "));
    // With no subcommand at all clap shows the whole help (on standard error,
    // status 2): it says how to call the example, and nothing else is wrong.
    let whole_help = args.is_empty() && usage && stderr.contains("Commands:");
    if !stderr.starts_with("error: ") && !whole_help {
        wrong.push("standard error does not start with 'error: '".into());
    }
    // clap shows the usage line for a wrong word, and points to --help for a
    // wrong value.
    if !usage && !stderr.contains("For more information, try '--help'.") {
        wrong.push("does not say how to call the example".into());
    }
    if stderr.lines().count() > 8 && !whole_help {
        wrong.push(format!("{} lines: not short", stderr.lines().count()));
    }
    if stderr.contains("panicked") {
        wrong.push("panicked".into());
    }
    (!wrong.is_empty()).then(|| format!("{shown}: {}; stderr: {stderr:?}", wrong.join("; ")))
}

#[test]
fn every_example_rejects_bad_input_with_status_2_and_a_short_message() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    runner::build_examples().expect("build the examples");
    // Only what these probes leave counts, not other programs' entries meanwhile.
    let name_log = runner::start_name_log("bad_input");
    let before = runner::dev_shm_entries();
    let mut failures = Vec::new();
    let examples = runner::all_examples(root);
    assert!(!examples.is_empty(), "no examples found");
    let mut all: Vec<(String, Vec<String>)> = Vec::new();
    for example in &examples {
        let bin = runner::examples_dir().join(example);
        let specs = match help::all(root, &bin, example) {
            Ok(s) => s,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let mut cases: Vec<Vec<String>> = vec![vec![], vec!["no-such-command".into()]];
        for spec in &specs {
            cases.extend(probes(spec));
        }
        all.extend(cases.into_iter().map(|c| (example.clone(), c)));
    }
    let count = all.len();
    // Each probe must be refused before the example does anything, so they share
    // nothing: PROBERS at a time.
    let queue = std::sync::Mutex::new(all);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PROBERS {
            s.spawn(|| loop {
                let Some((example, case)) = queue.lock().unwrap().pop() else {
                    break;
                };
                if let Some(f) = probe(&example, &case) {
                    found.lock().unwrap().push(f);
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap();
    found.sort();
    failures.extend(found);
    let leaked = runner::suite_leftovers(&before, &name_log);
    let _ = std::fs::remove_file(&name_log);
    runner::remove_leftovers(&leaked);
    assert!(
        failures.is_empty(),
        "{} of {count} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        leaked.is_empty(),
        "bad input left entries in /dev/shm: {leaked:?}"
    );
    println!("{count} bad-input probes over {} examples", examples.len());
}
