//! Ctrl-C (SIGINT), SIGTERM and SIGHUP remove what an example made, print one line, and
//! then the example dies *by that signal*, as the book promises; and no descriptor the
//! library opens leaks into a child process.

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use shmbook::process::{self, Output};

fn interrupt_hold(signal: Signal, tag: &str) {
    let name = format!("/shmbook-int-{tag}-{}", std::process::id());
    let file = Path::new("/dev/shm").join(&name[1..]);
    runner::build_examples().expect("build the examples");
    let bin = runner::examples_dir().join("segments");
    let mut cmd = Command::new(bin);
    cmd.args(["hold", "--name", &name, "--seconds", "20"]);
    let mut running =
        process::start(&mut cmd, Output::Separate, None).expect("start segments hold");
    let start = Instant::now();
    while !file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the segment never appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    running.signal(signal).expect("send the signal");
    let ran = running.finish(Duration::from_secs(15)).expect("wait");
    let stderr = String::from_utf8_lossy(&ran.stderr);
    let leaked = file.exists();
    let _ = std::fs::remove_file(&file);
    assert!(!leaked, "{name} was left behind after {signal}");
    let status = ran
        .status
        .expect("segments hold did not end after the signal");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(signal as i32),
        "not killed by {signal} ({}); stderr: {stderr}",
        process::describe(status)
    );
    assert_eq!(
        stderr.trim_end(),
        format!("segments: interrupted by {signal}; removed 1 segment it had made")
    );
}

#[test]
fn ctrl_c_removes_the_segment_and_dies_by_sigint() {
    interrupt_hold(Signal::SIGINT, "int");
}

#[test]
fn sigterm_removes_the_segment_and_dies_by_sigterm() {
    interrupt_hold(Signal::SIGTERM, "term");
}

#[test]
fn sighup_removes_the_segment_and_dies_by_sighup() {
    interrupt_hold(Signal::SIGHUP, "hup");
}

/// A shell, the reader's parent process, sees the same: `$?` is 128 + 2 and `kill -l`
/// of it names INT (a process that *exited* with 130 would look the same to `$?`,
/// so the test above checks the wait status itself).
#[test]
fn a_shell_reports_the_signal() {
    runner::build_examples().expect("build the examples");
    let bin = runner::examples_dir().join("segments");
    let name = format!("/shmbook-int-sh-{}", std::process::id());
    let script = format!(
        "{} hold --name {name} --seconds 20 >/dev/null 2>&1 & pid=$!; \
         while [ ! -e /dev/shm/{} ]; do sleep 0.01; done; kill -INT $pid; wait $pid; \
         s=$?; echo \"$s $(kill -l $s)\"",
        bin.display(),
        &name[1..]
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    let ran =
        process::run(&mut cmd, Output::Merged, None, Duration::from_secs(20)).expect("run sh");
    let _ = std::fs::remove_file(Path::new("/dev/shm").join(&name[1..]));
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "130 INT");
}

/// The library's own descriptors (signal-hook's self-pipe) are close-on-exec: a child
/// started through `shmbook` inherits none of them.
#[cfg(target_os = "linux")]
#[test]
fn a_helper_inherits_no_descriptor_of_the_library() {
    let open_fds = || -> std::collections::BTreeSet<String> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let before = open_fds();
    shmbook::cleanup::install("interrupt-test");
    let libs: Vec<String> = open_fds().difference(&before).cloned().collect();
    assert!(
        !libs.is_empty(),
        "install opened no descriptor: nothing to check"
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "cd /proc/self/fd && echo *"])
        .stdout(std::process::Stdio::piped());
    let mut child = process::Child::spawn(&mut cmd).expect("start sh");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.take_stdout().unwrap(), &mut out).unwrap();
    child
        .wait_until(Instant::now() + Duration::from_secs(10))
        .unwrap();
    let inherited: Vec<&str> = out
        .split_whitespace()
        .filter(|fd| libs.iter().any(|l| l == fd))
        .collect();
    assert!(
        inherited.is_empty(),
        "the child inherited the library's descriptors {inherited:?} (library: {libs:?}; child: {out})"
    );
}
