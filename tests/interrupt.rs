//! Ctrl-C (SIGINT) and SIGTERM remove the segments an example made, print one line and
//! exit with 128 + the signal's number, as the book promises.

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn interrupt_hold(signal: i32, tag: &str) {
    let name = format!("/shmbook-int-{tag}-{}", std::process::id());
    let file = Path::new("/dev/shm").join(&name[1..]);
    runner::build_examples().expect("build the examples");
    let bin = runner::examples_dir().join("segments");
    let mut child = Command::new(bin)
        .args(["hold", "--name", &name, "--seconds", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start segments hold");
    let start = Instant::now();
    while !file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the segment never appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Give the example a moment past creation, so the name is registered.
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: kill(2) on the pid of the child we just started and have not reaped.
    unsafe { libc::kill(child.id() as i32, signal) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = std::fs::remove_file(&file);
            panic!("segments hold did not exit after signal {signal}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let leaked = file.exists();
    let _ = std::fs::remove_file(&file);
    assert!(!leaked, "{name} was left behind after signal {signal}");
    assert_eq!(out.status.code(), Some(128 + signal), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!("segments: interrupted by signal {signal}; removed 1 segment(s) it had made")
    );
}

#[test]
fn ctrl_c_removes_the_segment() {
    interrupt_hold(libc::SIGINT, "int");
}

#[test]
fn sigterm_removes_the_segment() {
    interrupt_hold(libc::SIGTERM, "term");
}
