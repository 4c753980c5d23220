//! 1.2 `segments_sweep`: remove the segments that processes which are gone left behind.

use std::time::Duration;

use anyhow::{bail, Context};

use super::Exercise;
use crate::kit::{dead_pid, fail, segment, skip, Ctx, Hint, Role, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "segments_sweep",
    number: "1.2",
    chapter: "segments",
    check,
    roles: &[SWEEP, SLEEP],
    hints: HINTS,
    linux_only: true,
};

const ONCE: Hint = Hint("list /dev/shm once; kill(pid, 0) answers at once");
const LIVE: Hint = Hint("kill(pid, 0) == 0 means the process runs: keep its segments");
const EPERM: Hint = Hint("kill(pid, 0) failing with EPERM means the process runs but belongs to another user: keep its segments; only ESRCH means it is gone");
const PREFIX_DASH: Hint = Hint(
    "match the prefix followed by '-': /app-PID-N and /appx-PID-N belong to different programs",
);
const NUMBERS: Hint =
    Hint("both PID and N must be decimal numbers; leave names you do not understand alone");
const DEAD: Hint = Hint(
    "take the PID from the name and ask kill(pid, 0): failing with ESRCH means the process is gone",
);
const RETURNED: Hint = Hint("return the names you removed, with their leading '/', sorted");

pub const HINTS: &[Hint] = &[ONCE, LIVE, EPERM, PREFIX_DASH, NUMBERS, DEAD, RETURNED];

/// The user a root grader runs the student's sweep as, so that a process of another
/// user (pid 1, root's) answers EPERM.
const NOBODY: u32 = 65534;

fn check(ctx: &Ctx) -> Verdict {
    if !cfg!(target_os = "linux") {
        return Err(skip("sweep lists /dev/shm, which only Linux has"));
    }
    let prefix = ctx.name("sw");
    let dead = dead_pid()?;
    let other_dead = dead_pid()?;
    let sleeper = SLEEP.spawn(&[])?;
    let live = sleeper.id();
    let me = nix::unistd::Uid::current();
    if me.is_root() {
        // The sleeper must be the sweep's user before the sweep looks at it.
        use std::os::unix::fs::MetadataExt;
        shmbook::wait::until(
            "the live process to become user nobody",
            crate::kit::WORKER_TIMEOUT,
            || std::fs::metadata(format!("/proc/{live}")).is_ok_and(|m| m.uid() == NOBODY),
        )?;
    }
    let foreign = foreign_pid(me.is_root());
    let mut keep = vec![
        format!("{prefix}-{live}-0"),
        format!("{prefix}x-{dead}-0"),
        format!("{prefix}-{dead}-x"),
        format!("{prefix}-{dead}"),
        format!("{prefix}-{dead}-1-2"),
    ];
    if let Some(pid) = foreign {
        keep.push(format!("{prefix}-{pid}-3"));
    }
    let mut gone = vec![
        format!("{prefix}-{dead}-0"),
        format!("{prefix}-{dead}-17"),
        format!("{prefix}-{other_dead}-4"),
    ];
    gone.sort();
    for n in keep.iter().chain(&gone) {
        // Left behind on purpose, as a crashed program would: the grader's sweep
        // removes whatever the student's code does not.
        segment(n, 64)?.set_owner(false);
        if me.is_root() {
            let path = format!("/dev/shm{n}");
            std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY))
                .with_context(|| format!("giving {path} to user {NOBODY}"))?;
        }
    }
    let removed = match SWEEP.run(&[&prefix])? {
        Ok(list) => list,
        Err(why) => return Err(fail(format!("sweep failed: {why}"))),
    };
    drop(sleeper);
    let exists = |n: &str| shmbook::os::shm_exists(n).unwrap_or(true);
    for n in &keep {
        if exists(n) {
            continue;
        }
        let f = fail(format!("removed {n}, {}", why_keep(n, live, foreign)));
        return Err(if n.contains(&format!("-{live}-")) {
            f.hint(LIVE)
        } else if foreign.is_some_and(|p| n.contains(&format!("-{p}-"))) {
            f.hint(EPERM)
        } else if n.contains("x-") {
            f.hint(PREFIX_DASH)
        } else {
            f.hint(NUMBERS)
        });
    }
    if let Some(n) = gone.iter().find(|n| exists(n)) {
        return Err(fail(format!("left {n}, although its process is gone")).hint(DEAD));
    }
    let expected = gone.join(" ");
    if removed != expected {
        return Err(fail(format!("returned [{removed}], expected [{expected}]")).hint(RETURNED));
    }
    Ok(())
}

fn why_keep(name: &str, live: u32, foreign: Option<u32>) -> String {
    if name.contains(&format!("-{live}-")) {
        format!("whose process {live} is running")
    } else if let Some(p) = foreign.filter(|p| name.contains(&format!("-{p}-"))) {
        format!("whose process {p} is running as another user (kill answers EPERM)")
    } else {
        "which is not PREFIX-PID-N".to_string()
    }
}

/// A running process of another user than the one the sweep runs as: pid 1 when the
/// grader is root (the sweep then runs as nobody), else any process in /proc owned by
/// someone else. None when there is none to be found.
fn foreign_pid(root: bool) -> Option<u32> {
    if root {
        return Some(1);
    }
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::Uid::current().as_raw();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            (e.metadata().ok()?.uid() != me).then_some(pid)
        })
        .min()
}

/// Worker: `_sweep PREFIX` — the student's sweep (as user nobody when started as root),
/// printing the names it returned.
const SWEEP: Role = Role {
    name: "_sweep",
    run: |args| {
        let [prefix] = args else {
            bail!("needs PREFIX")
        };
        if nix::unistd::Uid::current().is_root() {
            let nobody = nix::unistd::Gid::from_raw(NOBODY);
            // (macOS's nix has no setgroups; the grader runs this check on Linux only.)
            #[cfg(target_os = "linux")]
            nix::unistd::setgroups(&[nobody]).context("dropping groups")?;
            nix::unistd::setgid(nobody).context("becoming group nobody")?;
            nix::unistd::setuid(nix::unistd::Uid::from_raw(NOBODY))
                .context("becoming user nobody")?;
        }
        Ok(homework::segments_sweep::sweep(prefix)?.join(" "))
    },
};

/// Worker: `_sleep` — a live process (of the user the sweep runs as) until the check
/// kills it.
const SLEEP: Role = Role {
    name: "_sleep",
    run: |_| {
        if nix::unistd::Uid::current().is_root() {
            nix::unistd::setuid(nix::unistd::Uid::from_raw(NOBODY))
                .context("becoming user nobody")?;
        }
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    },
};
