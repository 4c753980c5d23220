//! The homework is graded honestly: for every exercise, the untouched starter code FAILS
//! its check (because of its `todo!()`, not because the check is broken) and the
//! reference solution PASSES it. A check that passed the starter would pass anything.
//!
//! This test runs the grader's program as `cargo run -p grade` runs it once built (the
//! book's transcripts, and `every_exercise_is_everywhere` here, go through `cargo run`
//! itself), both ways, with its machine-readable output, and also checks that the
//! starter code is exactly what the solutions cut down to (`grade starter --check`),
//! that every chapter has at least three exercises, that bad input is refused in one
//! line, that checks which panic, crash or hang are reported as such, and that nothing
//! is left in /dev/shm.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const CHAPTERS: [&str; 5] = ["segments", "sizing", "arrays", "semaphores", "alternatives"];

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The grader's program, built once for all the tests here: what `cargo run -p grade`
/// builds (grade/launch builds `grade-core`) and then runs with the same arguments.
/// Called directly, each call saves cargo's start and its up-to-date check.
fn grader() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let mut build = Command::new(cargo());
        build.args(["build", "-q", "-p", "grade-core", "--message-format=json"]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let out = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "the grader does not build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "grade-core")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the grader's program")
    })
}

fn grade(args: &[&str]) -> Output {
    Command::new(grader())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the grader")
}

/// The grader as students call it: `cargo run -q -p grade -- ARGS`.
fn cargo_run_grade(args: &[&str]) -> Output {
    Command::new(cargo())
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

/// The grader's entries in /dev/shm (`shmgrade-RUN-...`, RUN its process id) whose
/// grader has ended: those of a grader still running (another test of this suite, or
/// another copy of the book on this machine) are in use, not left behind.
fn shm_entries() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            let Some(rest) = n
                .strip_prefix("sem.")
                .unwrap_or(n)
                .strip_prefix("shmgrade-")
            else {
                return false;
            };
            let run = rest.split('-').next().unwrap_or("");
            !std::path::Path::new("/proc").join(run).exists()
        })
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
            n >= 3,
            "chapter {chapter} has {n} exercises; at least 3 are promised"
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

/// The grader's regression set (grade/regression/: wrong submissions that must FAIL
/// with the property they break, correct alternatives that must PASS), each case once.
/// `cargo run -p grade -- regress --runs 20 --load` repeats it under load. The longest
/// test here: its name sorts first but for one, so that it starts at once (the test
/// harness starts tests in the order of their names).
#[test]
fn a_regression_set_judged_right() {
    // Three sets at a time: the checks hold under load (see `regress --load`).
    let out = grade(&["regress", "--jobs", "3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("cases judged right in 1 of 1 runs"), "{text}");
}

/// The instructors' grading loop on three fake students, graded on three exercises:
/// one who solved them all, one who solved some (one file missing, one wrong), one
/// whose file does not compile (which costs that exercise only).
#[test]
fn a_class_is_graded_student_by_student() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("shmbook-class-{}", std::process::id()));
    let subs = dir.join("submissions");
    let out = dir.join("out");
    let put = |student: &str, name: &str, from: &str| {
        let to = subs.join(student).join(format!("{name}.rs"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root.join(from), to).unwrap();
    };
    // All the files: the same files as `--solutions`, so the same build of the grader.
    for e in std::fs::read_dir(root.join("solutions")).unwrap() {
        let file = e.unwrap().file_name().to_string_lossy().into_owned();
        put(
            "good",
            file.trim_end_matches(".rs"),
            &format!("solutions/{file}"),
        );
    }
    put("partial", "sizing_pages", "solutions/sizing_pages.rs");
    put(
        "partial",
        "alternatives_frames",
        "grade/regression/alternatives_frames/wrong_write.rs",
    );
    for name in ["sizing_pages", "arrays_header", "alternatives_frames"] {
        put("broken", name, &format!("solutions/{name}.rs"));
    }
    let broken = subs.join("broken/arrays_header.rs");
    let text = std::fs::read_to_string(&broken).unwrap();
    std::fs::write(&broken, text.replace("Ok(data.iter()", "Ok(data.iter(")).unwrap();
    let ran = Command::new(root.join("scripts/grade-class"))
        .arg(&subs)
        .arg(&out)
        .args(["sizing_pages", "arrays_header", "alternatives_frames"])
        .current_dir(root)
        .output()
        .expect("run scripts/grade-class");
    let csv = std::fs::read_to_string(out.join("class.csv")).unwrap_or_default();
    let broken_json = std::fs::read_to_string(out.join("broken.json")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ran.status.success(), "{ran:?}");
    assert_eq!(
        csv.replace("\r\n", "\n"),
        "student,passed,total,sizing_pages,arrays_header,alternatives_frames\n\
         broken,2,3,pass,fail,pass\n\
         good,3,3,pass,pass,pass\n\
         partial,1,3,pass,fail,fail\n",
    );
    assert!(
        broken_json.contains("does not compile"),
        "the broken file's exercise says why: {broken_json}"
    );
}

/// One exercise list everywhere: the grader's table, the modules of homework/, the
/// solutions, the regression set, the chapter pages (each exercise's section, and the
/// grader's hints shown as a transcript the book suite replays) and the instructors'
/// table.
#[test]
fn every_exercise_is_everywhere() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    // `grade --help`: "  NAME   (NUMBER CHAPTER[, Linux only])".
    let help = String::from_utf8_lossy(&cargo_run_grade(&["--help"]).stdout).into_owned();
    let table: Vec<(String, String, String)> = help
        .lines()
        .skip_while(|l| *l != "exercises:")
        .skip(1)
        .map(|l| {
            let (name, rest) = l.trim().split_once(' ').unwrap();
            let rest = rest.trim().trim_matches(['(', ')']);
            let mut words = rest.split([' ', ',']);
            let number = words.next().unwrap().to_string();
            let chapter = words.next().unwrap().to_string();
            (name.to_string(), number, chapter)
        })
        .collect();
    assert_eq!(table.len(), 15, "{help}");
    let lib = read("homework/src/lib.rs");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    let names: Vec<&str> = table.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(modules, names, "homework/src/lib.rs and the grader's table");
    let instructors = read("src/instructors.md");
    for (name, number, chapter) in &table {
        assert!(
            root.join(format!("solutions/{name}.rs")).is_file(),
            "{name}"
        );
        let page = read(&format!("src/exercises/{chapter}.md"));
        assert!(
            page.contains(&format!("### Exercise {number}:")),
            "src/exercises/{chapter}.md has no section for exercise {number}"
        );
        assert!(
            page.contains(&format!("homework/src/{name}.rs:task")),
            "src/exercises/{chapter}.md does not show {name}'s task"
        );
        let hints = page
            .lines()
            .find(|l| l.starts_with("$ cargo run -q -p grade -- hints"))
            .unwrap_or_else(|| panic!("src/exercises/{chapter}.md shows no grader hints"));
        assert!(hints.split(' ').any(|w| w == name), "{chapter}: {hints}");
        assert!(
            instructors.contains(&format!("| {number} `{name}` |")),
            "src/instructors.md's table has no row for {number} {name}"
        );
        let cases: Vec<String> = std::fs::read_dir(root.join(format!("grade/regression/{name}")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let count = |p: &str| cases.iter().filter(|c| c.starts_with(p)).count();
        assert!(
            count("wrong_") >= 2 && count("ok_") >= 1,
            "grade/regression/{name}: at least two wrong_ and one ok_ case: {cases:?}"
        );
    }
}
