//! Unit tests of the transcript harness's parts (`tests/support/`): the names a
//! transcript types made unique per run, the leak check's idea of "ours", and bless.

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;
#[path = "support/transcript.rs"]
#[allow(dead_code)]
mod transcript;

use std::collections::BTreeSet;
use std::path::Path;

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn typed_names_run_unique_and_read_as_typed() {
    let r = runner::run_suffix();
    let (cmd, pairs) =
        runner::unique_typed_names("cargo run -q --example segments -- open --name /shmbook-left")
            .unwrap();
    assert_eq!(
        cmd,
        format!("cargo run -q --example segments -- open --name /shmbook-left{r}")
    );
    let out = v(&[
        &format!("opened /shmbook-left{r}: 4096 bytes"),
        &format!("on Linux it is the file /dev/shm/shmbook-left{r}"),
        "/shmbook-lefty is another name",
    ]);
    assert_eq!(
        runner::restore_typed_names(&out, &pairs).unwrap(),
        v(&[
            "opened /shmbook-left: 4096 bytes",
            "on Linux it is the file /dev/shm/shmbook-left",
            "/shmbook-lefty is another name",
        ])
    );
    // A program that prints the book's name rather than the one it was given fails.
    let err = runner::restore_typed_names(&v(&["opened /shmbook-left"]), &pairs).unwrap_err();
    assert!(err.contains("printed a name it was not given"), "{err}");
    // A name too long to take the suffix within the portable limit is refused.
    assert!(runner::unique_typed_names("x --name /shmbook-a-very-long-name").is_err());
}

#[test]
fn leak_check_counts_only_the_suites_names() {
    let me = std::process::id();
    let before = runner::dev_shm_entries();
    let log = std::env::temp_dir().join(format!("shmbook-harness-test-{me}.log"));
    let logged = format!("shmbook-logged-{me}-0");
    let entries = [
        logged.clone(),                                   // made by an example: in the log
        format!("sem.{logged}"),                          // its semaphore twin
        format!("shmbook-typed{}", runner::run_suffix()), // a typed name of this run
        format!("shmbook-other-{me}-0"),                  // same pattern, not in the log
        format!("shmbook-typed-r{me}9"),                  // another run's suffix
        format!("unrelated-{me}"),                        // another program's
    ];
    std::fs::write(&log, format!("/{logged}\n")).unwrap();
    for e in &entries {
        std::fs::write(Path::new("/dev/shm").join(e), b"x").unwrap();
    }
    let found = runner::suite_leftovers(&before, &log);
    for e in &entries {
        let _ = std::fs::remove_file(Path::new("/dev/shm").join(e));
    }
    let _ = std::fs::remove_file(&log);
    let found: BTreeSet<&String> = found.iter().filter(|f| entries.contains(f)).collect();
    assert_eq!(found, entries[..3].iter().collect::<BTreeSet<_>>());
}

#[test]
fn unique_names_are_logged_for_the_suite() {
    let log = std::env::temp_dir().join(format!("shmbook-names-log-{}.log", std::process::id()));
    std::env::set_var(shmbook::names::LOG_VAR, &log);
    let a = shmbook::names::unique("logtest");
    let b = shmbook::names::unique("logtest");
    std::env::remove_var(shmbook::names::LOG_VAR);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert_eq!(text, format!("{a}\n{b}\n"));
}

#[test]
fn bless_keeps_what_still_matches_and_takes_the_rest() {
    let expected = v(&[
        "created [NAME] (4096 bytes)",
        "took [TIME]",
        "...",
        "done: 3",
        "gone",
    ]);
    let actual = v(&[
        "created /shmbook-x-1-0 (4096 bytes)",
        "new line",
        "took 5 ms",
        "a",
        "b",
        "done: 4",
    ]);
    let blessed = transcript::bless(&expected, &actual);
    assert_eq!(
        blessed,
        v(&[
            "created [NAME] (4096 bytes)",
            "new line",
            "took [TIME]",
            "...",
            "done: 4"
        ])
    );
    assert!(transcript::matches(&blessed, &actual));
    // A changed last line is replaced, not swallowed by the `...` before it.
    assert_eq!(
        transcript::bless(&v(&["a", "...", "z"]), &v(&["a", "b", "c", "y"])),
        v(&["a", "...", "y"])
    );
    // A passing transcript blesses to itself.
    let ok = v(&["a [N]", "...", "z"]);
    assert_eq!(transcript::bless(&ok, &v(&["a 1", "b", "z"])), ok);
}
