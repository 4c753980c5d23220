//! Class 1: SIGINT, SIGTERM or SIGHUP at a random moment — after a random delay, just
//! after a helper starts, or as soon as the run has created something — to the
//! example alone (`kill`) or to its whole process group (Ctrl-C). Afterwards nothing
//! of the run remains (no segment, semaphore, socket or temporary file in the
//! sandbox's /dev/shm and /tmp; no process of the run), and the example died by the
//! signal, or finished normally (without saying "interrupted") when the signal came
//! after its work.
//!
//! A quarter of the attacks send a second signal (any of the three) up to 20 ms after
//! the first, while the example cleans up; it must then die by one of the two.
//!
//! Cases: 16 commands of [`QUICK`] (a seeded pick) per `cargo test`, each with a
//! seeded random signal, moment and target; `HOSTILE_FULL=1` takes all 34, and
//! `HOSTILE_SIGNAL_ROUNDS=N` repeats that N times.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::common::{self, Attack, Target, When};

/// The commands signalled: each runs for about the given time (debug build, idle
/// machine), which bounds the random delay.
pub const QUICK: &[(&str, &[&str], u64)] = &[
    ("segments", &["create"], 60),
    ("segments", &["ownership"], 40),
    ("segments", &["names"], 40),
    ("segments", &["flink"], 50),
    ("segments", &["unsized"], 150),
    ("segments", &["killed-owner"], 60),
    ("segments", &["threads"], 50),
    ("segments", &["perms"], 30),
    ("segments", &["hold", "--seconds", "2"], 2000),
    ("sizing", &["table"], 30),
    ("sizing", &["zero"], 20),
    ("sizing", &["opener"], 40),
    ("sizing", &["lazy"], 60),
    ("sizing", &["beyond"], 40),
    ("sizing", &["full"], 60),
    ("sizing", &["grow"], 50),
    ("sizing", &["container"], 300),
    ("sizing", &["ahead"], 30),
    ("arrays", &["layout"], 40),
    ("arrays", &["checks"], 40),
    ("arrays", &["race"], 80),
    ("arrays", &["fill"], 400),
    ("arrays", &["compare"], 800),
    ("arrays", &["python-reads"], 1800),
    ("arrays", &["python-writes"], 1500),
    ("semaphores", &["release"], 60),
    ("semaphores", &["unlock-other"], 40),
    ("semaphores", &["admit"], 250),
    ("semaphores", &["rwlock"], 250),
    ("semaphores", &["event"], 80),
    ("semaphores", &["dead-holder"], 250),
    ("semaphores", &["timeout-bug"], 1300),
    ("semaphores_counter", &["run", "--n", "2000"], 200),
    ("alternatives", &["isolation"], 50),
    (
        "alternatives",
        &["throughput", "--size", "64KiB", "--rounds", "1"],
        1500,
    ),
    ("alternatives", &["latency", "--n", "20"], 1500),
];

/// Visible subcommands not signalled here, and why.
pub const NOT_SIGNALLED: &[(&str, &str, &str)] = &[
    ("segments", "leave", "leaves its segment on purpose"),
    (
        "segments",
        "exists",
        "creates nothing (FIFO class covers it)",
    ),
    (
        "segments",
        "remove",
        "creates nothing (FIFO class covers it)",
    ),
    ("segments", "open", "creates nothing (FIFO class covers it)"),
];

const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// The cases of a signal class: `n` commands of [`QUICK`] (all with `HOSTILE_FULL=1`),
/// `HOSTILE_SIGNAL_ROUNDS` times, each with the attack `pick` makes from a seeded
/// generator and the command's usual run time in milliseconds.
fn attacks(
    seed: u64,
    n: usize,
    pick: impl Fn(&mut common::Rng, u64) -> Attack,
) -> Vec<(&'static str, Vec<String>, Attack)> {
    common::setup();
    let mut rng = common::Rng(seed);
    let mut cases = Vec::new();
    for _ in 0..common::knob("HOSTILE_SIGNAL_ROUNDS", 1) {
        let mut commands = QUICK.to_vec();
        if common::knob("HOSTILE_FULL", 0) == 0 {
            common::sample(&mut commands, n, &mut rng);
        }
        for (example, args, ms) in commands {
            let attack = pick(&mut rng, ms);
            cases.push((example, common::words(args), attack));
        }
    }
    cases
}

pub fn every_visible_command_is_tabled() {
    let mut missing = Vec::new();
    for (example, specs) in common::specs() {
        for s in specs.iter().filter(|s| !s.command.starts_with('_')) {
            let tabled = QUICK
                .iter()
                .any(|(e, a, _)| *e == example && a[0] == s.command)
                || NOT_SIGNALLED
                    .iter()
                    .any(|(e, c, _)| *e == example && *c == s.command);
            if !tabled {
                missing.push(format!("{example} {}", s.command));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "add these to QUICK or NOT_SIGNALLED in tests/hostile/signals.rs: {missing:?}"
    );
}

pub fn a_signal_at_any_moment_leaves_nothing_behind() {
    if !common::sandbox_or_ignore("signals") {
        return;
    }
    let seed = common::seed();
    let cases = attacks(seed, 16, |rng, ms| Attack {
        signal: *rng.pick(&SIGNALS),
        when: match rng.below(4) {
            0 => When::HelperStarted,
            1 => When::Created,
            _ => When::After(Duration::from_millis(rng.below(ms + 1))),
        },
        target: if rng.below(2) == 0 {
            Target::Process
        } else {
            Target::Group
        },
        again: (rng.below(4) == 0)
            .then(|| (*rng.pick(&SIGNALS), Duration::from_millis(rng.below(20)))),
    });
    let failures = common::pool(&cases, |(example, args, attack)| {
        let o = common::run(example, args, Some(*attack), common::RUN_LIMIT);
        let mut wrong = Vec::new();
        use std::os::unix::process::ExitStatusExt;
        let died_by = o.ran.status.and_then(|s| s.signal());
        let by_signal = died_by == Some(attack.signal as i32)
            || attack.again.is_some_and(|(s, _)| died_by == Some(s as i32));
        let interrupted = o.stderr().contains("interrupted");
        let finished = o.code() == Some(0) && !interrupted;
        if !(by_signal || finished) {
            wrong.push(format!(
                "expected death by {} or a normal end",
                attack.signal
            ));
        }
        if !o.signalled && !finished {
            wrong.push("ended before the signal, but not normally".into());
        }
        if !o.survivors.is_empty() {
            wrong.push(format!("processes left running: {:?}", o.survivors));
        }
        if !o.left.is_empty() {
            wrong.push(format!("left behind: {:?}", o.left));
        }
        if o.panicked() {
            wrong.push("panicked".into());
        }
        o.verdict(
            format!(
                "{} with {attack:?} (signal sent: {})",
                common::shown(example, args),
                o.signalled
            ),
            &wrong,
        )
    });
    common::report("signals", Some(seed), cases.len(), &failures);
}

/// SIGKILL of the example — by a helper's start, or at a random moment: it cannot clean
/// up (a leftover segment is what the book documents for a killed owner), but no helper
/// may outlive it for more than [`common::HELPER_GRACE`] (they get SIGTERM when their
/// parent dies, also during their start).
///
/// Cases: 8 commands of [`QUICK`] (seeded pick) per `cargo test`; all with
/// `HOSTILE_FULL=1`, times `HOSTILE_SIGNAL_ROUNDS`.
pub fn kill_9_of_the_example_leaves_no_helper_running() {
    if !common::sandbox_or_ignore("kill-9") {
        return;
    }
    let seed = common::seed();
    let cases = attacks(seed, 8, |rng, ms| Attack {
        signal: Signal::SIGKILL,
        when: match rng.below(2) {
            0 => When::HelperStarted,
            _ => When::After(Duration::from_millis(rng.below(ms + 1))),
        },
        target: Target::Process,
        again: None,
    });
    let failures = common::pool(&cases, |(example, args, attack)| {
        let o = common::run(example, args, Some(*attack), common::RUN_LIMIT);
        (!o.survivors.is_empty()).then(|| {
            format!(
                "{} with {attack:?}: processes outlived it by {:?}: {:?}; {}",
                common::shown(example, args),
                common::HELPER_GRACE,
                o.survivors,
                o.show()
            )
        })
    });
    common::report("kill-9", Some(seed), cases.len(), &failures);
}

/// Standard output closed under the example (`… | head -1`): writing to it fails with
/// EPIPE. Expected: status 0, 1 with an `error:` line, or death by SIGPIPE — never a
/// panic (`failed printing to stdout`, status 101); nothing left behind.
///
/// Cases: 8 commands of [`QUICK`] (seeded pick); all with `HOSTILE_FULL=1`.
pub fn a_closed_standard_output_is_not_a_panic() {
    if !common::sandbox_or_ignore("closed-stdout") {
        return;
    }
    let seed = common::seed();
    let cases = attacks(seed, 8, |_, _| Attack {
        signal: Signal::SIGPIPE,
        when: When::After(Duration::ZERO),
        target: Target::Process,
        again: None,
    });
    let failures = common::pool_in_sandboxes(&cases, |sb, (example, args, _)| {
        let o = common::run_with(sb, example, args, None, common::RUN_LIMIT, true);
        let mut wrong = Vec::new();
        let error_line = o.stderr().contains("error:");
        match o.code() {
            Some(0) => {}
            Some(1) if error_line && !o.panicked() => {}
            Some(c) if c == 128 + libc::SIGPIPE => {}
            _ => wrong.push("expected status 0, 1 with 'error:', or death by SIGPIPE".into()),
        }
        if o.panicked() {
            wrong.push("panicked".into());
        }
        wrong.extend(o.leaks());
        o.verdict(
            format!("{} with its stdout closed", common::shown(example, args)),
            &wrong,
        )
    });
    common::report("closed-stdout", Some(seed), cases.len(), &failures);
}

/// A small /dev/shm (16 KiB or 1 MiB: a container's, or one others have filled): a
/// segment can be created and sized beyond the room left (tmpfs allocates pages on
/// first touch), and touching it then is SIGBUS. Expected: status 0, or 1 or 2 with an
/// `error:` line (e.g. "no room in /dev/shm"); never SIGBUS or a panic; nothing left.
///
/// Cases: 8 commands of [`QUICK`] (seeded pick), each with one of the two sizes;
/// `HOSTILE_FULL=1`: all 34 × both sizes.
pub fn a_small_dev_shm_is_an_error_not_a_crash() {
    if !common::sandbox_or_ignore("small-shm") {
        return;
    }
    let seed = common::seed();
    let full = common::knob("HOSTILE_FULL", 0) != 0;
    let mut rng = common::Rng(seed);
    let mut cases = Vec::new();
    for (example, args, _) in attacks(seed, 8, |_, _| Attack {
        signal: Signal::SIGBUS,
        when: When::After(Duration::ZERO),
        target: Target::Process,
        again: None,
    }) {
        let sizes: Vec<usize> = if full {
            vec![16 << 10, 1 << 20]
        } else {
            vec![*rng.pick(&[16 << 10, 1 << 20])]
        };
        for size in sizes {
            cases.push((example, args.clone(), size));
        }
    }
    let failures = common::pool(&cases, |(example, args, size)| {
        let sb = crate::sandbox::Sandbox::with_small_shm(*size).expect("sandbox");
        let o = common::run_in(&sb, example, args, None, common::RUN_LIMIT);
        let mut wrong = Vec::new();
        match o.code() {
            Some(0) => {}
            Some(1 | 2) if o.stderr().contains("error:") && !o.panicked() => {}
            _ => wrong.push("expected status 0, or 1 or 2 with 'error:'".into()),
        }
        wrong.extend(o.leaks());
        o.verdict(
            format!(
                "{} with a /dev/shm of {} KiB",
                common::shown(example, args),
                size >> 10
            ),
            &wrong,
        )
    });
    common::report("small-shm", Some(seed), cases.len(), &failures);
}
