//! Class 3: a FIFO or a directory where a segment's name points. Every visible
//! subcommand with a `--name` option (segments `exists`, `remove`, `open`, `hold`,
//! `leave`, … read from the help) is run on it: it ends within a bounded time (a
//! blocking `open` of a FIFO would hang for ever), says it is not a segment, and leaves
//! it in place. And `hold`, interrupted while a FIFO has replaced its segment's name,
//! still dies by the signal at once, without removing the FIFO.
//!
//! Cases: (subcommands with `--name`) × {FIFO, directory}, plus 3 signals × `hold`;
//! the roles that attach: see [`roles_on_a_fifo_or_a_directory_do_not_hang`].

use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::stat::Mode;

use crate::common::{self, Attack, Target, When};
use crate::garbage;
use crate::sandbox::Sandbox;

const NAME: &str = "/shmbook-notaseg";

fn plant(sb: &Sandbox, kind: &str) {
    let path = sb.segment(NAME);
    match kind {
        "FIFO" => nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o666)).expect("mkfifo"),
        _ => std::fs::create_dir(&path).expect("mkdir"),
    }
}

pub fn a_fifo_or_a_directory_is_not_a_segment() {
    if !common::sandbox_or_ignore("fifo") {
        return;
    }
    let mut cases = Vec::new();
    for (example, specs) in common::specs() {
        for s in specs.iter().filter(|s| !s.command.starts_with('_')) {
            if !s.options().any(|a| a.flag == "--name") {
                continue;
            }
            let mut args = vec![s.command.clone(), "--name".into(), NAME.into()];
            if s.options().any(|a| a.flag == "--seconds") {
                args.extend(["--seconds".into(), "1".into()]);
            }
            for kind in ["FIFO", "directory"] {
                cases.push((example.clone(), args.clone(), kind));
            }
        }
    }
    assert!(
        !cases.is_empty(),
        "no subcommand takes --name: nothing to check"
    );
    let failures = common::pool(&cases, |(example, args, kind)| {
        let sb = Sandbox::new().expect("sandbox");
        plant(&sb, kind);
        let o = common::run_in(&sb, example, args, None, Duration::from_secs(10));
        let text = format!("{}{}", o.stdout(), o.stderr()).to_lowercase();
        let mut wrong = Vec::new();
        if o.ran.timed_out() {
            wrong.push("hung".to_string());
        }
        if !text.contains("not a segment") && !text.contains("not a shared-memory segment") {
            wrong.push("does not say it is not a segment".into());
        }
        if !o.removed.is_empty() {
            wrong.push(format!("removed {:?}", o.removed));
        }
        wrong.extend(o.leaks());
        if o.panicked() || o.code().is_some_and(|c| c > 2) {
            wrong.push("crashed".into());
        }
        o.verdict(
            format!("{} with a {kind} at {NAME}", common::shown(example, args)),
            &wrong,
        )
    });
    common::report("fifo", None, cases.len(), &failures);
}

pub fn hold_interrupted_while_a_fifo_replaced_its_segment_does_not_hang() {
    if !common::sandbox_or_ignore("fifo-hold") {
        return;
    }
    common::setup();
    let signals = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];
    let failures = common::pool(&signals, |signal| {
        let sb = Sandbox::new().expect("sandbox");
        let name = "/shmbook-swapped";
        let path = sb.segment(name);
        // Once the segment exists, swap it for a FIFO; then the signal.
        let swapper = {
            let path = path.clone();
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                while !path.exists() && start.elapsed() < Duration::from_secs(10) {
                    std::thread::sleep(Duration::from_millis(2));
                }
                std::thread::sleep(Duration::from_millis(100));
                let _ = std::fs::remove_file(&path);
                nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o666)).is_ok()
            })
        };
        let attack = Attack {
            signal: *signal,
            when: When::Fifo(name),
            target: Target::Process,
            again: None,
        };
        let args = common::words(&["hold", "--name", name, "--seconds", "30"]);
        let o = common::run_in(
            &sb,
            "segments",
            &args,
            Some(attack),
            Duration::from_secs(40),
        );
        let swapped = swapper.join().unwrap_or(false);
        use std::os::unix::process::ExitStatusExt;
        let mut wrong = Vec::new();
        if !swapped {
            wrong.push("the segment never appeared to be swapped for a FIFO".to_string());
        }
        if o.ran.status.and_then(|s| s.signal()) != Some(*signal as i32) {
            wrong.push(format!("did not die by {signal}"));
        }
        if !o.signalled {
            wrong.push("ended before the signal".into());
        } else if o.ran.elapsed > Duration::from_secs(5) {
            wrong.push(format!("took {:?} to end", o.ran.elapsed));
        }
        if swapped && !path.exists() {
            wrong.push("the cleanup removed the FIFO it did not create".into());
        }
        o.verdict(
            format!("segments hold --name {name}, FIFO swapped in, then {signal}"),
            &wrong,
        )
    });
    common::report("fifo-hold", None, signals.len(), &failures);
}

/// Every role that attaches, with a FIFO or a directory at its segment's name: it ends
/// (an `open` that blocks on a FIFO never would), with status 0, or 1 or 2 and an
/// `error:` line, and leaves the FIFO or directory in place.
///
/// Cases: one line per role (seeded pick) × {FIFO, directory}, each given
/// `garbage::QUICK_LIMIT` (a role still waiting then — e.g. retrying until the name
/// becomes a segment, a bounded wait — is counted *undecided*); `HOSTILE_FULL=1`: every
/// line with `garbage::LIMIT`, where not ending is a failure.
pub fn roles_on_a_fifo_or_a_directory_do_not_hang() {
    let Some((full, seed, mut rng)) = common::begin("fifo-roles") else {
        return;
    };
    let mut cases = Vec::new();
    for (example, specs) in common::specs() {
        for spec in specs.iter().filter(|s| s.command.starts_with('_')) {
            let mut lines = garbage::attaching_lines(spec);
            if !full {
                common::sample(&mut lines, 1, &mut rng);
            }
            for line in lines {
                let line: Vec<String> = line
                    .into_iter()
                    .map(|w| if w == garbage::NAME { NAME.into() } else { w })
                    .collect();
                for kind in ["FIFO", "directory"] {
                    cases.push((example.clone(), line.clone(), kind));
                }
            }
        }
    }
    let limit = if full {
        garbage::LIMIT
    } else {
        garbage::QUICK_LIMIT
    };
    let undecided = std::sync::atomic::AtomicUsize::new(0);
    let failures = common::pool_in_sandboxes(&cases, |sb, (example, args, kind)| {
        plant(sb, kind);
        let o = common::run_in(sb, example, args, None, limit);
        let mut wrong = Vec::new();
        match o.code() {
            None if !full => {
                undecided.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return None;
            }
            None => wrong.push("hung".to_string()),
            Some(0) => {}
            Some(1 | 2) if o.stderr().contains("error:") => {}
            Some(_) => wrong.push("crashed, or failed without 'error:'".into()),
        }
        if o.panicked() {
            wrong.push("panicked".into());
        }
        if !o.removed.is_empty() {
            wrong.push(format!("removed {:?}", o.removed));
        }
        wrong.extend(o.leaks());
        o.verdict(
            format!("{} with a {kind} at {NAME}", common::shown(example, args)),
            &wrong,
        )
    });
    eprintln!(
        "hostile: fifo-roles: {} undecided (still running after {limit:?})",
        undecided.into_inner()
    );
    common::report("fifo-roles", Some(seed), cases.len(), &failures);
}
