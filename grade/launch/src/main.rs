//! `cargo run -q -p grade`: the command students and instructors type.
//!
//! The grader itself (`grade-core`, in `grade/`) needs about 130 crates; its first build
//! takes minutes on a small machine, and `cargo run -q` shows nothing while it builds.
//! This program has no dependencies, so cargo builds it in a second or two; it then
//! builds the grader with `cargo build -q --message-format=json-render-diagnostics`,
//! says within a few seconds when that is a real build (not an up-to-date check), shows
//! its progress, and finally replaces itself with the grader (`exec`), passing every
//! argument on. Compiler messages (a student's warnings and errors) reach the terminal
//! exactly as `cargo run -q` would show them.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Said once, when the grader has to be compiled (measured: see src/instructors.md).
const NOTICE: &str = "grade: building the grader first (once: 2 to 3 minutes on an idle \
                      2-core machine, longer under load; later runs start at once)";

/// On a terminal, an up-to-date grader is reported by cargo within this time; after
/// it, or at the first unit cargo really compiles, the notice is shown. Without a
/// terminal (logs, the book's transcripts) only a real compile step shows it: a busy
/// machine can make cargo's up-to-date check itself take seconds, and a log must not
/// change with the load.
const QUIET_FOR: Duration = Duration::from_secs(2);

/// Without a terminal (CI logs), a progress line this often.
const LOG_EVERY: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-q", "-p", "grade-core"]);
    build.arg("--message-format=json-render-diagnostics");
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let mut child = match build.stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => return fail(&format!("cannot start cargo to build the grader: {e}")),
    };
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let progress = watch(&rx, std::io::stderr().is_terminal(), QUIET_FOR);
    let status = match child.wait() {
        Ok(status) => status,
        Err(e) => return fail(&format!("waiting for cargo: {e}")),
    };
    let Some(exe) = progress.executable.filter(|_| status.success()) else {
        // cargo has printed the compiler's errors on stderr already.
        return fail("the grader did not build (see the errors above)");
    };
    run(&exe)
}

/// Replaces this process with the grader, arguments passed on.
fn run(exe: &str) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let err = Command::new(exe).args(std::env::args_os().skip(1)).exec();
    fail(&format!("cannot run the grader {exe}: {err}"))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("grade: {message}");
    ExitCode::from(101)
}

/// What the build reported.
#[derive(Debug, Default, PartialEq)]
struct Progress {
    /// The grader's program, from its `compiler-artifact` message.
    executable: Option<String>,
    /// Compile steps cargo ran (not just found up to date).
    compiled: usize,
    /// Whether the notice was shown.
    announced: bool,
    /// When, counted from the start of the build.
    announced_after: Option<Duration>,
}

/// Reads cargo's messages until it is done, speaking when it really builds (on a
/// terminal also when cargo is still silent after `quiet_for`, see [`QUIET_FOR`]).
fn watch(rx: &mpsc::Receiver<String>, terminal: bool, quiet_for: Duration) -> Progress {
    let start = Instant::now();
    let mut p = Progress::default();
    let mut last_log = start;
    let mut err = std::io::stderr();
    loop {
        let line = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut unit = None;
        if let Some(line) = &line {
            let m = Message::parse(line);
            if m.artifact && !m.fresh {
                p.compiled += 1;
                unit = m.name.clone();
            }
            if m.name.as_deref() == Some("grade-core") && m.executable.is_some() {
                p.executable = m.executable;
            }
        }
        if !p.announced && (p.compiled > 0 || (terminal && start.elapsed() >= quiet_for)) {
            p.announced = true;
            p.announced_after = Some(start.elapsed());
            let _ = writeln!(err, "{NOTICE}");
        }
        if !p.announced {
            continue;
        }
        let elapsed = start.elapsed().as_secs();
        let status = format!(
            "grade: {} compile steps done, {}m{:02}s",
            p.compiled,
            elapsed / 60,
            elapsed % 60
        );
        if terminal {
            if let Some(name) = unit {
                let _ = write!(err, "\r\x1b[K{status} (last: {name})");
            }
        } else if last_log.elapsed() >= LOG_EVERY {
            last_log = Instant::now();
            let _ = writeln!(err, "{status}");
        }
    }
    if p.compiled > 0 {
        let elapsed = start.elapsed().as_secs();
        let end = if terminal { "\r\x1b[K" } else { "" };
        let _ = writeln!(
            err,
            "{end}grade: the grader's build took {}m{:02}s ({} compile step{})",
            elapsed / 60,
            elapsed % 60,
            p.compiled,
            if p.compiled == 1 { "" } else { "s" }
        );
    }
    p
}

/// The parts of one of cargo's JSON messages this program needs. Cargo writes one JSON
/// object per line; the fields read here are plain, so a small scan replaces a JSON
/// library (which would make this program slow to build, the one thing it must not be).
#[derive(Debug, Default, PartialEq)]
struct Message {
    artifact: bool,
    fresh: bool,
    name: Option<String>,
    executable: Option<String>,
}

impl Message {
    fn parse(line: &str) -> Message {
        Message {
            artifact: line.contains(r#""reason":"compiler-artifact""#),
            fresh: line.contains(r#""fresh":true"#),
            // The first "name" of an artifact message is its target's.
            name: string_after(line, r#""name":""#),
            executable: string_after(line, r#""executable":""#),
        }
    }
}

/// The JSON string that starts right after `key`, unescaped (`\"`, `\\`, `\/`).
fn string_after(line: &str, key: &str) -> Option<String> {
    let rest = &line[line.find(key)? + key.len()..];
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests' stand-in for [`QUIET_FOR`]: the same logic, on a shorter clock.
    const QUIET: Duration = Duration::from_millis(500);

    const BUILT: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/grade#grade-core@0.1.0","manifest_path":"/w/grade/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"grade-core","src_path":"/w/grade/src/main.rs","edition":"2021","doc":true,"doctest":false,"test":true},"features":[],"filenames":["/w/my \"dir\"/target/debug/grade-core"],"executable":"/w/my \"dir\"/target/debug/grade-core","fresh":false}"#;

    #[test]
    fn reads_an_artifact_message() {
        let m = Message::parse(BUILT);
        assert!(m.artifact && !m.fresh);
        assert_eq!(m.name.as_deref(), Some("grade-core"));
        assert_eq!(
            m.executable.as_deref(),
            Some(r#"/w/my "dir"/target/debug/grade-core"#)
        );
        let fresh = Message::parse(&BUILT.replace(r#""fresh":false"#, r#""fresh":true"#));
        assert!(fresh.fresh);
        let done = Message::parse(r#"{"reason":"build-finished","success":true}"#);
        assert!(!done.artifact && done.executable.is_none());
    }

    /// An up-to-date grader: cargo answers at once with fresh units only; nothing said.
    #[test]
    fn an_up_to_date_grader_is_silent() {
        let (tx, rx) = mpsc::channel();
        tx.send(BUILT.replace(r#""fresh":false"#, r#""fresh":true"#))
            .unwrap();
        drop(tx);
        let p = watch(&rx, false, QUIET);
        assert!(!p.announced && p.compiled == 0 && p.executable.is_some());
    }

    /// A real build: the first compiled unit makes it speak, long before the end.
    #[test]
    fn a_real_build_is_announced_at_its_first_unit() {
        both_ways(|terminal| {
            let (tx, rx) = mpsc::channel();
            let feeder = std::thread::spawn(move || {
                tx.send(BUILT.replace("grade-core", "libc")).unwrap();
                std::thread::sleep(QUIET / 2);
                tx.send(BUILT.into()).unwrap();
            });
            let p = watch(&rx, terminal, QUIET);
            feeder.join().unwrap();
            assert!(p.announced && p.compiled == 2 && p.executable.is_some());
            assert!(p.announced_after.unwrap() < QUIET / 2, "{p:?}");
        });
    }

    /// Runs `case` on a terminal and in a log at the same time (its waits overlap).
    fn both_ways(case: fn(bool)) {
        std::thread::scope(|s| {
            for terminal in [false, true] {
                s.spawn(move || case(terminal));
            }
        });
    }

    /// A slow up-to-date check (a busy machine, another cargo holding the lock): on a
    /// terminal the person is told after the quiet time; in a log nothing is said.
    #[test]
    fn a_slow_check_speaks_only_on_a_terminal() {
        both_ways(|terminal| {
            let (tx, rx) = mpsc::channel();
            let feeder = std::thread::spawn(move || {
                std::thread::sleep(QUIET + Duration::from_millis(300));
                tx.send(BUILT.replace(r#""fresh":false"#, r#""fresh":true"#))
                    .unwrap();
            });
            let p = watch(&rx, terminal, QUIET);
            feeder.join().unwrap();
            assert_eq!(p.announced, terminal, "{p:?}");
            assert_eq!(p.compiled, 0);
        });
    }
}
