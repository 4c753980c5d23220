//! The homework is graded honestly: for every exercise, the untouched starter code FAILS
//! its check (because of its `todo!()`, not because the check is broken) and the
//! reference solution PASSES it. A check that passed the starter would pass anything.
//!
//! This test runs the grader as a student would (`cargo run -p grade`), both ways, with
//! its machine-readable output, and also checks that the starter code is exactly what
//! the solutions cut down to (`grade starter --check`), that every chapter has at least
//! two exercises, that bad input is refused in one line, that checks which panic,
//! crash or hang are reported as such, and that nothing is left in /dev/shm.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};

const CHAPTERS: [&str; 5] = ["segments", "sizing", "arrays", "semaphores", "alternatives"];

fn grade(args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(["run", "-q", "-p", "grade", "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo")
}

/// (name → (chapter, status, message)) from the grader's JSON: one exercise per line.
fn results(out: &Output) -> BTreeMap<String, (String, String, String)> {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = regex::Regex::new(
        r#"^  \{"name":"([a-z_]+)","chapter":"([a-z]+)","status":"([a-z]+)","message":"((?:[^"\\]|\\.)*)","hint":(?:null|"(?:[^"\\]|\\.)*"),"seconds":[0-9.]+,"number":"[0-9.]+"\},?$"#,
    )
    .unwrap();
    let mut map = BTreeMap::new();
    for l in text.lines().skip(1) {
        if l == "]}" {
            break;
        }
        let c = line
            .captures(l)
            .unwrap_or_else(|| panic!("not an exercise line: {l}\n{text}"));
        map.insert(
            c[1].to_string(),
            (c[2].to_string(), c[3].to_string(), c[4].to_string()),
        );
    }
    map
}

fn shm_entries() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("shmbook-h"))
        .collect()
}

#[test]
fn every_starter_fails_and_every_solution_passes() {
    // Sequential on purpose: the checks start several processes each, and some of
    // them (the semaphore's) measure that waiters are woken promptly.
    let before = shm_entries();

    let up_to_date = grade(&["starter", "--check"]);
    assert!(
        up_to_date.status.success(),
        "homework/src is not what solutions/ cuts down to: {}",
        String::from_utf8_lossy(&up_to_date.stderr)
    );

    let starter = grade(&["--format", "json"]);
    assert_eq!(
        starter.status.code(),
        Some(1),
        "the starter must fail: {starter:?}"
    );
    let starter = results(&starter);

    let solutions = grade(&["--solutions", "--format", "json"]);
    let solution_text = String::from_utf8_lossy(&solutions.stdout).into_owned();
    assert_eq!(
        solutions.status.code(),
        Some(0),
        "the solutions must pass:\n{solution_text}"
    );
    let solutions = results(&solutions);

    assert_eq!(
        starter.keys().collect::<Vec<_>>(),
        solutions.keys().collect::<Vec<_>>(),
        "both runs check the same exercises"
    );
    for (name, (chapter, status, message)) in &starter {
        assert_eq!(
            status, "fail",
            "{name}: the untouched starter passes its check"
        );
        assert!(
            message.starts_with("not implemented yet"),
            "{name}: the starter fails for another reason than its todo!(): {message}"
        );
        assert!(
            CHAPTERS.contains(&chapter.as_str()),
            "{name}: unknown chapter {chapter}"
        );
    }
    for (name, (_, status, message)) in &solutions {
        assert_eq!(
            status, "pass",
            "{name}: the reference solution fails: {message}"
        );
    }
    for chapter in CHAPTERS {
        let n = starter.values().filter(|(c, _, _)| c == chapter).count();
        assert!(
            n >= 2,
            "chapter {chapter} has {n} exercises; at least 2 are promised"
        );
    }

    // The grader's own misbehaving checks: each leaves a segment, starts a worker that
    // holds another, and then panics, crashes or hangs. Each must be reported as such,
    // and (checked below) nothing may be left in /dev/shm. The grader returns at all
    // only once every process of the check has ended: they hold its output pipes.
    let misbehaving = grade(&["--self-test", "--timeout", "1", "--format", "json"]);
    assert_eq!(misbehaving.status.code(), Some(1), "{misbehaving:?}");
    let misbehaving = results(&misbehaving);
    let message = |name: &str| {
        misbehaving
            .get(name)
            .map(|(_, _, m)| m.as_str())
            .unwrap_or("")
    };
    assert!(
        message("selftest_panic").contains("a panic, on purpose"),
        "{misbehaving:?}"
    );
    assert!(
        message("selftest_crash").contains("crashed (killed by signal 6 (SIGABRT))"),
        "{misbehaving:?}"
    );
    assert!(
        message("selftest_hang").contains("did not finish within 1 s"),
        "{misbehaving:?}"
    );

    let bad = grade(&["--no-such-option"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "bad input exits 2");
    assert_eq!(err.lines().count(), 1, "bad input is one line: {err}");
    assert!(err.contains("usage: cargo run -p grade --"), "{err}");

    let leaked: Vec<_> = shm_entries().difference(&before).cloned().collect();
    assert!(leaked.is_empty(), "the grader left {leaked:?} in /dev/shm");
}
