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
//! A warm `cargo test --test hostile` runs a seeded sample of each class. The heavy
//! runs (counts in each module):
//!
//! ```text
//! HOSTILE_FULL=1 HOSTILE_SIGNAL_ROUNDS=20 HOSTILE_FUZZ=2000 cargo test --test hostile
//! ```
//!
//! Knobs: `HOSTILE_SEED` (repeat a run; failures print it), `HOSTILE_JOBS` (runs at
//! once, default 4), `HOSTILE_FULL`, `HOSTILE_SIGNAL_ROUNDS`, `HOSTILE_FUZZ`.

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;

#[path = "hostile/help.rs"]
#[allow(dead_code)]
mod help;

#[path = "hostile/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "hostile/fifo.rs"]
mod fifo;
#[path = "hostile/forged.rs"]
mod forged;
#[path = "hostile/fuzz.rs"]
mod fuzz;
#[path = "hostile/garbage.rs"]
mod garbage;
#[path = "hostile/planted.rs"]
mod planted;
#[path = "hostile/sandbox.rs"]
mod sandbox;
#[path = "hostile/signals.rs"]
mod signals;
#[path = "hostile/sizes.rs"]
mod sizes;

/// The sandbox itself: it sees what a run leaves and the processes it runs — else
/// every class above would pass for nothing.
#[test]
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

/// The pid namespace of the planted class gives a run the small ids it plants for.
#[test]
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
