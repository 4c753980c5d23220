//! Class 2: segments planted by "another process" at the names a run will generate,
//! and at a name the reader chose.
//!
//! Generated names are `/shmbook-TAG-PID-N`. The run happens in a sandbox with its own
//! pid namespace, where the example and its helpers get the small ids 2 to [`PIDS`];
//! a leftover is planted at N = 0 and 1 for every TAG the sources pass to
//! `names::unique` and every one of those ids, so the first names any process of the
//! run would make are taken. Expected: the run ends as it does without them (status
//! 0), every planted segment is still there with its bytes, and nothing else remains.
//!
//! Chosen names: `segments leave --name X` and `hold --name X` with X planted: a clear
//! error (status 1 or 2, `error:`), X untouched.
//!
//! Cases: by default 4 commands of the signal class's table (seeded pick) + the 3
//! chosen names; `HOSTILE_FULL=1`: all of them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common;
use crate::sandbox::Sandbox;
use crate::signals::QUICK;

/// The highest process id planted for.
pub const PIDS: u32 = 100;
const MARK: &[u8] = b"planted by tests/hostile: not yours\n";

/// The tags passed to `names::unique("…")` in the examples and the library.
fn tags() -> BTreeSet<String> {
    let re = regex::Regex::new(r#"unique\(\s*"([^"]+)"\s*\)"#).unwrap();
    let mut out = BTreeSet::new();
    for dir in ["examples", "lib"] {
        for path in walk(&common::root().join(dir)) {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for c in re.captures_iter(&text) {
                out.insert(c[1].chars().take(8).collect());
            }
        }
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// Plants the leftovers for every id of the sandbox's pid namespace a run can get.
fn plant(sb: &Sandbox, tags: &BTreeSet<String>) {
    for p in 2..=PIDS {
        for tag in tags {
            for n in 0..2 {
                std::fs::write(sb.shm().join(format!("shmbook-{tag}-{p}-{n}")), MARK)
                    .expect("plant a leftover");
            }
        }
    }
}

/// The planted entries that are gone or changed.
fn damaged(sb: &Sandbox, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| std::fs::read(sb.shm().join(n)).map_or(true, |b| b != MARK))
        .cloned()
        .collect()
}

pub fn a_leftover_at_the_next_generated_name_is_skipped_and_kept() {
    if !common::sandbox_or_ignore("planted") {
        return;
    }
    common::setup();
    let tags = tags();
    assert!(!tags.is_empty(), "no names::unique(\"TAG\") in the sources");
    let full = common::knob("HOSTILE_FULL", 0) != 0;
    let seed = common::seed();
    let mut rng = common::Rng(seed);
    let mut cases: Vec<_> = QUICK.to_vec();
    if !full {
        common::sample(&mut cases, 4, &mut rng);
    }
    let failures = common::pool(&cases, |(example, args, _)| {
        let args = common::words(args);
        let sb = Sandbox::with_pids().expect("sandbox");
        plant(&sb, &tags);
        let planted: Vec<String> = sb
            .entries()
            .iter()
            .map(|e| e.trim_start_matches("/dev/shm/").to_string())
            .collect();
        let o = common::run_in(&sb, example, &args, None, common::RUN_LIMIT);
        let mut wrong = Vec::new();
        if o.code() != Some(0) {
            wrong.push("did not succeed".to_string());
        }
        let lost = damaged(&sb, &planted);
        if !lost.is_empty() {
            wrong.push(format!(
                "removed or overwrote {} planted segment(s): {:?}",
                lost.len(),
                &lost[..lost.len().min(5)]
            ));
        }
        wrong.extend(o.leaks());
        o.verdict(
            format!(
                "{} with leftovers at its next names",
                common::shown(example, &args)
            ),
            &wrong,
        )
    });
    common::report("planted", Some(seed), cases.len(), &failures);
}

/// Subcommands that create the segment the reader names.
const CREATE_NAMED: &[(&str, &[&str])] = &[
    ("segments", &["leave", "--name", "/shmbook-chosen"]),
    (
        "segments",
        &["leave", "--name", "/shmbook-chosen", "--unsized"],
    ),
    (
        "segments",
        &["hold", "--name", "/shmbook-chosen", "--seconds", "1"],
    ),
];

pub fn a_chosen_name_that_is_taken_is_a_clear_error() {
    if !common::sandbox_or_ignore("planted-chosen") {
        return;
    }
    common::setup();
    let failures = common::pool(CREATE_NAMED, |(example, args)| {
        let args = common::words(args);
        // Without the planted segment the command line works: the probe is valid.
        let control = common::run(example, &args, None, Duration::from_secs(20));
        if control.code() != Some(0) {
            return Some(format!(
                "{}: fails even with the name free: {}",
                common::shown(example, &args),
                control.show()
            ));
        }
        let sb = Sandbox::new().expect("sandbox");
        std::fs::write(sb.segment("/shmbook-chosen"), MARK).expect("plant");
        let o = common::run_in(&sb, example, &args, None, Duration::from_secs(20));
        let mut wrong = Vec::new();
        if !matches!(o.code(), Some(1 | 2)) || !o.stderr().contains("error:") {
            wrong.push("expected status 1 or 2 and an 'error:' line".to_string());
        }
        if !damaged(&sb, &["shmbook-chosen".into()]).is_empty() {
            wrong.push("removed or changed the other segment".into());
        }
        wrong.extend(o.leaks());
        o.verdict(
            format!(
                "{} with /shmbook-chosen taken",
                common::shown(example, &args)
            ),
            &wrong,
        )
    });
    common::report("planted-chosen", None, CREATE_NAMED.len(), &failures);
}
