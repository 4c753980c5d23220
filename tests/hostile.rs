//! Hostile conditions, class by class (issue 16): each module's comment says what it
//! attacks, what it expects and how many cases it runs.
//!
//! - [`signals`] — SIGINT, SIGTERM, SIGHUP at random moments (and a second one during
//!   the cleanup): nothing left, no process left, death by the signal; SIGKILL: no
//!   helper left; a closed standard output: no panic;
//! - [`planted`] — leftovers at the next generated names and at a chosen name;
//! - [`fifo`] — a FIFO or a directory at a segment's name;
//! - [`garbage`] — undersized and garbage segments for every role that attaches, and
//!   bytes from a segment printed escaped;
//! - [`forged`] — real segments, copied from runs and then spoiled, for the same roles;
//! - [`sizes`] — sizes and counts from 0 to 2^64−1 for every numeric argument;
//! - [`fuzz`] — malformed command lines, seeded.
//!
//! Every run happens in a sandbox (`sandbox`: a private /dev/shm and /tmp, and the
//! run's processes found by their mount namespace), which needs root. Without root
//! each class prints `IGNORED` and does not run (on CI, `CI=true`, it fails instead).
//!
//! This test runs with a harness of its own (`harness = false`), so that a class that
//! cannot run here is reported as *ignored* in the summary — never counted as passed,
//! which libtest cannot do for a condition known only at run time.
//! `cargo test --test hostile -- WORD` runs only the tests whose name contains WORD.
//!
//! The classes take about half a minute, so a plain `cargo test` reports them as
//! ignored; `HOSTILE=1 cargo test --test hostile` runs them, and CI (`CI=true`) always
//! does. A run with `HOSTILE=1` runs a seeded sample of each class. The heavy
//! runs (counts in each module):
//!
//! ```text
//! HOSTILE_FULL=1 HOSTILE_SIGNAL_ROUNDS=20 HOSTILE_FUZZ=2000 cargo test --test hostile
//! ```
//!
//! Knobs: `HOSTILE_SEED` (repeat a run; failures print it), `HOSTILE_JOBS` (runs at
//! once, default 4), `HOSTILE_FULL`, `HOSTILE_SIGNAL_ROUNDS`, `HOSTILE_FUZZ`.

#[cfg(target_os = "linux")]
#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;

#[cfg(target_os = "linux")]
#[path = "hostile/help.rs"]
#[allow(dead_code, unused_imports)] // its unit tests run in tests/bad_input.rs
mod help;

#[cfg(target_os = "linux")]
#[path = "hostile/common.rs"]
#[allow(dead_code)]
mod common;
#[cfg(target_os = "linux")]
#[path = "hostile/fifo.rs"]
mod fifo;
#[cfg(target_os = "linux")]
#[path = "hostile/forged.rs"]
mod forged;
#[cfg(target_os = "linux")]
#[path = "hostile/fuzz.rs"]
mod fuzz;
#[cfg(target_os = "linux")]
#[path = "hostile/garbage.rs"]
mod garbage;
#[cfg(target_os = "linux")]
#[path = "hostile/planted.rs"]
mod planted;
#[cfg(target_os = "linux")]
#[path = "hostile/sandbox.rs"]
mod sandbox;
#[cfg(target_os = "linux")]
#[path = "hostile/signals.rs"]
mod signals;
#[cfg(target_os = "linux")]
#[path = "hostile/sizes.rs"]
mod sizes;

#[cfg(target_os = "linux")]
/// The sandbox itself: it sees what a run leaves and the processes it runs — else
/// every class above would pass for nothing.
fn the_sandbox_sees_leftovers_and_processes() {
    if !common::sandbox_or_ignore("sandbox") {
        return;
    }
    common::setup();
    let sb = sandbox::Sandbox::new().expect("sandbox");
    let args = common::words(&["leave", "--name", "/shmbook-meta"]);
    let o = common::run_in(&sb, "segments", &args, None, common::RUN_LIMIT);
    assert_eq!(o.code(), Some(0), "{}", o.show());
    assert_eq!(o.left, ["/dev/shm/shmbook-meta"]);
    assert!(
        !runner::dev_shm_entries().contains("shmbook-meta"),
        "the run wrote to the machine's /dev/shm"
    );
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("30");
    sb.enter(&mut cmd, common::root());
    let mut child = cmd.spawn().expect("sleep");
    let seen = sb.processes();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen, [(child.id() as i32, "sleep".to_string())]);
}

#[cfg(target_os = "linux")]
/// The pid namespace of the planted class gives a run the small ids it plants for.
fn a_run_in_the_pid_sandbox_gets_a_planted_id() {
    if !common::sandbox_or_ignore("sandbox-pids") {
        return;
    }
    let sb = sandbox::Sandbox::with_pids().expect("sandbox");
    let mut cmd = sb.command(std::path::Path::new("/bin/sh"), common::root());
    cmd.args(["-c", "echo $$; sh -c 'echo $$'"]);
    let out = cmd.output().expect("run sh");
    let ids: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(ids.len(), 2, "{out:?}");
    assert!(
        ids.iter().all(|p| (2..=planted::PIDS).contains(p)),
        "ids {ids:?} outside 2..={}",
        planted::PIDS
    );
}

#[cfg(target_os = "linux")]
/// Every test of this file, by name.
fn tests() -> Vec<(&'static str, fn())> {
    vec![
        (
            "the_sandbox_sees_leftovers_and_processes",
            the_sandbox_sees_leftovers_and_processes,
        ),
        (
            "a_run_in_the_pid_sandbox_gets_a_planted_id",
            a_run_in_the_pid_sandbox_gets_a_planted_id,
        ),
        (
            "fifo::a_fifo_or_a_directory_is_not_a_segment",
            fifo::a_fifo_or_a_directory_is_not_a_segment,
        ),
        (
            "fifo::hold_interrupted_while_a_fifo_replaced_its_segment_does_not_hang",
            fifo::hold_interrupted_while_a_fifo_replaced_its_segment_does_not_hang,
        ),
        (
            "fifo::roles_on_a_fifo_or_a_directory_do_not_hang",
            fifo::roles_on_a_fifo_or_a_directory_do_not_hang,
        ),
        (
            "forged::roles_survive_forged_segments",
            forged::roles_survive_forged_segments,
        ),
        (
            "fuzz::malformed_command_lines_at_random",
            fuzz::malformed_command_lines_at_random,
        ),
        (
            "garbage::every_attaching_role_survives_undersized_and_garbage_segments",
            garbage::every_attaching_role_survives_undersized_and_garbage_segments,
        ),
        (
            "garbage::bytes_from_a_segment_are_printed_escaped",
            garbage::bytes_from_a_segment_are_printed_escaped,
        ),
        (
            "garbage::raw_control_sees_what_a_terminal_obeys",
            garbage::raw_control_sees_what_a_terminal_obeys,
        ),
        (
            "planted::a_leftover_at_the_next_generated_name_is_skipped_and_kept",
            planted::a_leftover_at_the_next_generated_name_is_skipped_and_kept,
        ),
        (
            "planted::a_chosen_name_that_is_taken_is_a_clear_error",
            planted::a_chosen_name_that_is_taken_is_a_clear_error,
        ),
        (
            "signals::every_visible_command_is_tabled",
            signals::every_visible_command_is_tabled,
        ),
        (
            "signals::a_signal_at_any_moment_leaves_nothing_behind",
            signals::a_signal_at_any_moment_leaves_nothing_behind,
        ),
        (
            "signals::kill_9_of_the_example_leaves_no_helper_running",
            signals::kill_9_of_the_example_leaves_no_helper_running,
        ),
        (
            "signals::a_closed_standard_output_is_not_a_panic",
            signals::a_closed_standard_output_is_not_a_panic,
        ),
        (
            "signals::a_small_dev_shm_is_an_error_not_a_crash",
            signals::a_small_dev_shm_is_an_error_not_a_crash,
        ),
        (
            "sizes::sizes_and_counts_from_zero_to_two_to_the_64",
            sizes::sizes_and_counts_from_zero_to_two_to_the_64,
        ),
        ("sizes::huge_is_right", sizes::huge_is_right),
    ]
}

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    use std::sync::{Arc, Mutex};
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let selected: Vec<(&'static str, fn())> = tests()
        .into_iter()
        .filter(|(name, _)| filter.as_deref().is_none_or(|f| name.contains(f)))
        .collect();
    let total = tests().len();
    println!("\nrunning {} tests", selected.len());
    // The classes run one after another; each runs its cases in parallel itself
    // (HOSTILE_JOBS).
    let results: Arc<Mutex<Vec<(&str, Outcome)>>> = Arc::default();
    for (name, test) in &selected {
        common::reset_ignored();
        let outcome = match std::panic::catch_unwind(test) {
            Ok(()) if common::was_ignored() => Outcome::Ignored,
            Ok(()) => Outcome::Passed,
            Err(payload) => Outcome::Failed(
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            ),
        };
        let word = match &outcome {
            Outcome::Passed => "ok",
            Outcome::Ignored => "ignored, cannot run here (see the line above)",
            Outcome::Failed(_) => "FAILED",
        };
        println!("test {name} ... {word}");
        results.lock().unwrap().push((name, outcome));
    }
    let results = results.lock().unwrap();
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|(_, o)| f(o)).count();
    let passed = count(|o| matches!(o, Outcome::Passed));
    let ignored = count(|o| matches!(o, Outcome::Ignored));
    let failed = count(|o| matches!(o, Outcome::Failed(_)));
    if failed > 0 {
        println!("\nfailures:");
        for (name, o) in results.iter() {
            if let Outcome::Failed(why) = o {
                println!("\n---- {name} ----\n{why}");
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; {ignored} ignored; 0 measured; {} filtered out\n",
        if failed == 0 { "ok" } else { "FAILED" },
        total - selected.len()
    );
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

#[cfg(target_os = "linux")]
enum Outcome {
    Passed,
    Ignored,
    Failed(String),
}

/// The sandbox is made of Linux namespaces: elsewhere there is nothing to run.
#[cfg(not(target_os = "linux"))]
fn main() {
    println!("\nhostile: the sandbox needs Linux namespaces; nothing runs here");
    println!("\ntest result: ok. 0 passed; 0 failed; 19 ignored; 0 measured; 0 filtered out\n");
}
