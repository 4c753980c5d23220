//! The exercise table: one module per exercise, each with its check, the worker roles
//! the check starts, and its hints.

use std::process::ExitCode;
use std::time::Duration;

use crate::kit::{one_line, segment, Ctx, Hint, Role, Verdict};

mod alternatives_frames;
mod alternatives_latency;
mod alternatives_ring;
mod arrays_header;
mod arrays_ready;
mod arrays_split;
mod segments_open;
mod segments_sweep;
mod segments_unlink;
mod semaphores_counter;
mod semaphores_counting;
mod semaphores_robust;
mod sizing_pages;
mod sizing_reserved;
mod sizing_room;

/// One exercise: its file `homework/src/NAME.rs`, its chapter and its check.
pub struct Exercise {
    /// The module and file name, e.g. `sizing_pages`.
    pub name: &'static str,
    /// The book's number, e.g. `2.1`.
    pub number: &'static str,
    /// The chapter page, e.g. `sizing`.
    pub chapter: &'static str,
    /// Runs the check in the current process.
    pub check: fn(&Ctx) -> Verdict,
    /// The workers the check starts (this program run again with the role's name).
    pub roles: &'static [Role],
    /// Every hint the check can give; the first is shown when the check hangs.
    pub hints: &'static [Hint],
    /// The check needs Linux (it reads `/dev/shm`); elsewhere it reports SKIP.
    pub linux_only: bool,
}

/// Every exercise, in the order of the book.
pub const EXERCISES: &[Exercise] = &[
    segments_open::EXERCISE,
    segments_sweep::EXERCISE,
    segments_unlink::EXERCISE,
    sizing_pages::EXERCISE,
    sizing_reserved::EXERCISE,
    sizing_room::EXERCISE,
    arrays_header::EXERCISE,
    arrays_ready::EXERCISE,
    arrays_split::EXERCISE,
    semaphores_counter::EXERCISE,
    semaphores_counting::EXERCISE,
    semaphores_robust::EXERCISE,
    alternatives_frames::EXERCISE,
    alternatives_ring::EXERCISE,
    alternatives_latency::EXERCISE,
];

/// Checks of the grader itself (`--self-test`, run by `tests/homework.rs`): each leaves
/// a segment behind, starts a worker that makes one too, and then panics, crashes or
/// hangs. The grader must report each, end the worker, and remove both segments.
pub const SELF_TESTS: &[Exercise] = &[
    self_test("selftest_panic", |ctx| misbehave(ctx, "panic")),
    self_test("selftest_crash", |ctx| misbehave(ctx, "crash")),
    self_test("selftest_hang", |ctx| misbehave(ctx, "hang")),
];

const fn self_test(name: &'static str, check: fn(&Ctx) -> Verdict) -> Exercise {
    Exercise {
        name,
        number: "0",
        chapter: "grader",
        check,
        roles: &[HOLD],
        hints: &[Hint("(a hang, on purpose)")],
        linux_only: false,
    }
}

/// Worker: `_hold NAME` — make a segment and hold it until killed.
const HOLD: Role = Role {
    name: "_hold",
    run: hold,
};

/// Worker: `_exit` — end at once (its process id is then a dead one).
const EXIT: Role = Role {
    name: "_exit",
    run: |_| Ok(String::new()),
};

/// The body of the self-tests: a leftover, a worker holding another, then `how`.
fn misbehave(ctx: &Ctx, how: &str) -> Verdict {
    segment(&ctx.name("left"), 4096)?.set_owner(false);
    let worker_name = ctx.name("worker");
    let worker = HOLD.spawn(&[&worker_name])?;
    shmbook::wait::until("the worker's segment", crate::kit::WORKER_TIMEOUT, || {
        shmbook::os::shm_exists(&worker_name).unwrap_or(false)
    })?;
    std::mem::forget(worker); // no kill on drop: the grader must end it
    match how {
        "panic" => panic!("a panic, on purpose"),
        "crash" => std::process::abort(), // SIGABRT: no unwinding, no destructors
        _ => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
    }
}

fn hold(args: &[String]) -> anyhow::Result<String> {
    let [name] = args else {
        anyhow::bail!("needs NAME")
    };
    let _shm = segment(name, 4096)?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The exercise (or self-test) called `name`.
pub fn find(name: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().chain(SELF_TESTS).find(|e| e.name == name)
}

/// `grade _check NAME RUN`: runs one check and prints its verdict.
pub fn run_check(args: &[String]) -> ExitCode {
    let [name, run] = args else {
        eprintln!("grade _check: needs NAME RUN");
        return ExitCode::from(2);
    };
    let Some(exercise) = find(name) else {
        eprintln!("grade _check: no exercise '{name}'");
        return ExitCode::from(2);
    };
    let ctx = Ctx { run: run.clone() };
    let line = match (exercise.check)(&ctx) {
        Ok(()) => "PASS".to_string(),
        Err(f) if f.skip => format!("SKIP\t{}", one_line(&f.message)),
        Err(f) => format!(
            "FAIL\t{}\t{}",
            one_line(&f.message),
            f.hint.map(|h| h.0).unwrap_or_default()
        ),
    };
    println!("{line}");
    ExitCode::SUCCESS
}

/// Runs a worker role declared in the table and prints `OK ...` or `ERR why` (exit
/// status 0 or 1).
pub fn run_role(name: &str, args: &[String]) -> ExitCode {
    let role = EXERCISES
        .iter()
        .chain(SELF_TESTS)
        .flat_map(|e| e.roles)
        .chain([&EXIT])
        .find(|r| r.name == name);
    let result = match role {
        Some(r) => (r.run)(args),
        None => Err(anyhow::anyhow!("unknown role '{name}'")),
    };
    match result {
        Ok(s) => {
            println!("OK {s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("ERR {}", one_line(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}
