//! 4.3 `semaphores_robust`: go on after the lock's holder was killed.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::bail;
use homework::semaphores_robust::{init, lock, unlock, Shared};
use shared_memory::Shmem;

use super::Exercise;
use crate::kit::{
    call, fail, segment, skip, until_or_ended, wait_all, Barrier, Ctx, Hint, Role, Verdict,
    WORKER_TIMEOUT,
};

pub const EXERCISE: Exercise = Exercise {
    name: "semaphores_robust",
    number: "4.3",
    chapter: "semaphores",
    check,
    roles: &[ADD, DIE],
    hints: HINTS,
    linux_only: true,
};

const ROBUST: Hint = Hint("a mutex whose holder died stays locked for ever unless it is robust: pthread_mutexattr_setrobust(attr, PTHREAD_MUTEX_ROBUST), besides PTHREAD_PROCESS_SHARED");
const NOT_FAILURE: Hint = Hint("EOWNERDEAD is not a failure: it means you hold the lock now, and must repair the data before going on");
const IGNORED: Hint = Hint("EOWNERDEAD hands you the lock with the data half updated: repair the counters, call pthread_mutex_consistent, and return true");
const REPAIR: Hint = Hint("after EOWNERDEAD the counters may be half updated (left one more than right): make them equal before pthread_mutex_consistent");
const CONSISTENT: Hint = Hint("after EOWNERDEAD call pthread_mutex_consistent before unlocking; unlocked without it, the mutex answers ENOTRECOVERABLE for ever");
const EXCLUDE: Hint = Hint("with nobody killed the counters must agree: lock() returns Ok only once this thread holds the mutex, and any other result of pthread_mutex_lock is an error");

pub const HINTS: &[Hint] = &[ROBUST, NOT_FAILURE, IGNORED, REPAIR, CONSISTENT, EXCLUDE];

/// A killed holder's mutex is handed on at once: the next lock must return within this.
/// The lock is called on a thread of the check's own process (no process to start), so
/// a busy machine delays it by milliseconds, not seconds; a mutex that is not robust
/// never hands on, and is reported at this bound.
const HANDED_ON_WITHIN: Duration = Duration::from_secs(2);
const ADDERS: u32 = 3;

/// The segment: `Shared` at the start, the dying holder's "half done" flag here.
const FLAG_AT: usize = 2048;

fn shared(shm: &Shmem) -> *mut Shared {
    assert!(std::mem::size_of::<Shared>() <= FLAG_AT && shm.len() >= 4096);
    shm.as_ptr().cast()
}

fn flag(shm: &Shmem) -> &AtomicU32 {
    // SAFETY: FLAG_AT + 4 <= 4096 (see `shared`), 4-aligned in a page-aligned mapping;
    // an AtomicU32 is valid for every bit pattern; borrows `shm`.
    unsafe { &*shm.as_ptr().add(FLAG_AT).cast::<AtomicU32>() }
}

/// The counters, read while this process holds the lock (or nobody runs).
fn counters(shm: &Shmem) -> (u64, u64) {
    let s = shared(shm);
    // SAFETY: inside the mapping; read under the lock (or with every other process dead).
    unsafe { ((*s).left, (*s).right) }
}

fn check(ctx: &Ctx) -> Verdict {
    if !cfg!(target_os = "linux") {
        return Err(skip(
            "robust process-shared mutexes are Linux's (macOS has none)",
        ));
    }
    let name = ctx.name("robust");
    let shm = segment(&name, 4096)?;
    // SAFETY: a new, zeroed segment nobody else has opened yet, mapped until the end.
    call("init", || unsafe { init(shared(&shm)) })?;
    let seed = std::process::id() as u64;
    // Few updates each: the adders only prove the lock excludes; on a busy machine
    // every update may cost a switch between processes.
    let updates = 300 + seed % 300;
    // 1. Adders that take turns, started together: no repair is due.
    adders(ctx, &name, updates, "-")?;
    let mut done = u64::from(ADDERS) * updates;
    let (left, right) = counters(&shm);
    if (left, right) != (done, done) {
        return Err(fail(format!(
            "{ADDERS} processes × {updates} updates: the counters read {left} and {right}, not {done}"
        ))
        .hint(EXCLUDE));
    }
    // 2. A holder killed before its first addition, between the two, after both (in
    // an order that changes from run to run); the check locks next.
    for k in 0..3 {
        done = killed_at(&name, &shm, (seed as usize + k) % 3, done)?;
    }
    // 3. A holder killed, then other processes lock at the same moment: one of them
    // repairs.
    let rounds = 1 + seed % 2;
    for _ in 0..rounds {
        kill_holder(&name, &shm, 1)?;
        adders(ctx, &name, 1, "repair")?;
        done += u64::from(ADDERS);
    }
    let (left, right) = counters(&shm);
    if left != right || (left != done && left != done + rounds) {
        return Err(fail(format!(
            "a holder killed, then {ADDERS} processes adding 1 each, {rounds} times: the counters read {left} and {right}"
        ))
        .hint(REPAIR));
    }
    usable(&shm, "after the repairs by other processes")?;
    unrecoverable(&name, &shm)
}

/// The stages at which a holder is killed, by how many additions it made.
const STAGES: [&str; 3] = [
    "before its first addition",
    "between its two additions",
    "after both additions, before unlocking",
];

/// A holder killed at `stage`, then the check's own lock(): the counters repaired to
/// equal values, the update either undone or finished. Gives the updates done now.
fn killed_at(name: &str, shm: &Shmem, stage: usize, done: u64) -> Result<u64, crate::kit::Failure> {
    kill_holder(name, shm, stage)?;
    let what = format!(
        "after {done} updates the holder was killed {}",
        STAGES[stage]
    );
    let (repaired, left, right) = lock_within(shm, &what)?;
    if left != right {
        let f = fail(format!(
            "{what}; the next lock() returned {repaired}, and the counters read {left} and {right}"
        ));
        return Err(f.hint(if repaired { REPAIR } else { IGNORED }));
    }
    if !repaired {
        return Err(fail(format!(
            "{what}; the next lock() returned false: it repaired nothing (the counters read {left} and {right})"
        ))
        .hint(IGNORED));
    }
    if left != done && left != done + 1 {
        return Err(fail(format!(
            "{what}; the repaired counters read {left}, neither {done} nor {}",
            done + 1
        ))
        .hint(REPAIR));
    }
    usable(shm, &what)?;
    Ok(left)
}

/// A mutex made unusable (its holder killed, then unlocked without
/// pthread_mutex_consistent): the student's lock() must say so with an error.
fn unrecoverable(name: &str, shm: &Shmem) -> Verdict {
    kill_holder(name, shm, 1)?;
    let m = shared(shm);
    // SAFETY: the mutex is initialized and mapped; its holder is dead, no other process
    // runs; this thread unlocks what it locked.
    let rc = unsafe {
        let rc = libc::pthread_mutex_lock(&raw mut (*m).mutex);
        libc::pthread_mutex_unlock(&raw mut (*m).mutex);
        rc
    };
    if rc != libc::EOWNERDEAD {
        return Err(fail(format!(
            "a holder killed: pthread_mutex_lock said {}, not EOWNERDEAD",
            std::io::Error::from_raw_os_error(rc)
        )));
    }
    let what = "the mutex made unrecoverable (its holder killed, unlocked without pthread_mutex_consistent)";
    let at = m as usize;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: `init` set the mutex up and the segment stays mapped; an unrecoverable
        // mutex cannot be locked, so no counter is touched.
        let r = crate::kit::catch(|| unsafe { lock(at as *mut Shared) });
        let _ = tx.send(r);
    });
    match rx.recv_timeout(HANDED_ON_WITHIN) {
        Ok(Ok(Err(_))) => Ok(()),
        Ok(Ok(Ok(repaired))) => Err(fail(format!(
            "{what}: lock() returned Ok({repaired}), not an error"
        ))
        .hint(EXCLUDE)),
        Ok(Err(panic)) => Err(fail(format!("{what}: lock() panicked: {panic}"))),
        Err(_) => Err(fail(format!(
            "{what}: lock() was still waiting {} s later, not an error",
            HANDED_ON_WITHIN.as_secs()
        ))),
    }
}

/// Starts a worker that locks, makes `stage` of the two additions and is killed there.
fn kill_holder(name: &str, shm: &Shmem, stage: usize) -> Verdict {
    flag(shm).store(0, Ordering::Release);
    let holder = DIE.spawn(&[name, &stage.to_string()])?;
    let holder = until_or_ended(holder, "a worker to take the lock", WORKER_TIMEOUT, || {
        flag(shm).load(Ordering::Acquire) == 1
    })
    .map_err(|why| fail(format!("a worker taking the lock: {why}")))?;
    holder.kill()?;
    Ok(())
}

/// The student's `lock`, then the counters, then `unlock`, on a thread of this
/// process: a lock that never returns (a mutex that is not robust) is reported after
/// `HANDED_ON_WITHIN`. Gives what `lock` returned and the counters it left.
fn lock_within(shm: &Shmem, what: &str) -> Result<(bool, u64, u64), crate::kit::Failure> {
    let at = shared(shm) as usize;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let s = at as *mut Shared;
        // SAFETY: `init` set the mutex up; the segment stays mapped while the check
        // runs (a thread still blocked here dies with the check's process); the
        // counters are read while this thread holds the lock.
        let r = crate::kit::catch(|| unsafe {
            let repaired = lock(s)?;
            let (left, right) = ((*s).left, (*s).right);
            unlock(s)?;
            anyhow::Ok((repaired, left, right))
        });
        let _ = tx.send(r);
    });
    match rx.recv_timeout(HANDED_ON_WITHIN) {
        Err(_) => Err(fail(format!(
            "{what}; the next lock() was still waiting {} s later",
            HANDED_ON_WITHIN.as_secs()
        ))
        .hint(ROBUST)),
        Ok(Err(panic)) => Err(fail(format!("{what}; the next lock() panicked: {panic}"))),
        Ok(Ok(Err(e))) => {
            let e = format!("{e:#}");
            let f = fail(format!("{what}; the next lock() or unlock() failed: {e}"));
            Err(
                if e.contains("ot recoverable") || e.contains("ENOTRECOVERABLE") {
                    f.hint(CONSISTENT)
                } else {
                    f.hint(NOT_FAILURE)
                },
            )
        }
        Ok(Ok(Ok(found))) => Ok(found),
    }
}

/// The mutex itself, asked directly: free, and lockable.
fn usable(shm: &Shmem, when: &str) -> Verdict {
    let m = shared(shm);
    // SAFETY: the mutex is initialized and mapped; no other process runs now.
    let rc = unsafe { libc::pthread_mutex_trylock(&raw mut (*m).mutex) };
    if rc == 0 {
        // SAFETY: this thread has just locked it.
        unsafe { libc::pthread_mutex_unlock(&raw mut (*m).mutex) };
        return Ok(());
    }
    let said = std::io::Error::from_raw_os_error(rc);
    let f = fail(format!(
        "{when}: pthread_mutex_trylock on the mutex says {said}"
    ));
    Err(if rc == libc::ENOTRECOVERABLE {
        f.hint(CONSISTENT)
    } else {
        f
    })
}

/// Runs the adders, each making `n` updates, started together; with "repair", one of
/// them must report a repair.
fn adders(ctx: &Ctx, name: &str, n: u64, expect: &str) -> Verdict {
    let start = ctx.name("rstart");
    let _barrier = Barrier::create(&start)?;
    let mut started = Vec::new();
    for _ in 0..ADDERS {
        started.push(ADD.spawn(&[name, &n.to_string(), &start, &ADDERS.to_string()])?);
    }
    let setting = if expect == "repair" {
        format!("a holder killed, then {ADDERS} processes locking at once to add 1 each")
    } else {
        format!("{ADDERS} processes × {n} updates, started together")
    };
    let mut repairs = 0;
    for r in wait_all(started) {
        match r {
            Ok(k) => repairs += k.parse::<u32>().unwrap_or(0),
            Err(why) => {
                let f = fail(format!("{setting}: a process failed: {why}"));
                return Err(if why.contains("ot recoverable") {
                    f.hint(CONSISTENT)
                } else if why.contains("wner died") {
                    f.hint(NOT_FAILURE)
                } else {
                    f
                });
            }
        }
    }
    let want = u32::from(expect == "repair");
    if repairs != want {
        return Err(fail(format!(
            "{setting}: {repairs} lock() calls reported a repair, not {want}"
        )));
    }
    Ok(())
}

fn open(name: &str) -> anyhow::Result<Shmem> {
    let shm = crate::kit::open(name)?;
    if shm.len() < 4096 {
        bail!("{name} has {} bytes", shm.len());
    }
    Ok(shm)
}

/// Worker: `_robust_add NAME N START ADDERS` — at the start line, make N updates;
/// report how many `lock` calls repaired.
const ADD: Role = Role {
    name: "_robust_add",
    run: |args| {
        let [name, n, start, adders] = args else {
            bail!("needs NAME N START ADDERS")
        };
        let (n, adders): (u64, u32) = (n.parse()?, adders.parse()?);
        let shm = open(name)?;
        let s = shared(&shm);
        Barrier::wait(start, adders)?;
        let mut repairs = 0;
        for _ in 0..n {
            // SAFETY: the check set the mutex up with `init`; the segment stays mapped;
            // the counters are touched only between lock and unlock.
            unsafe {
                repairs += u32::from(lock(s)?);
                (*s).left += 1;
                (*s).right += 1;
                unlock(s)?;
            }
        }
        Ok(repairs.to_string())
    },
};

/// Worker: `_robust_die NAME STAGE` — lock, make STAGE of the two additions (0, 1 or
/// 2), raise the flag, and wait to be killed.
const DIE: Role = Role {
    name: "_robust_die",
    run: |args| {
        let [name, stage] = args else {
            bail!("needs NAME STAGE")
        };
        let stage: u32 = stage.parse()?;
        let shm = open(name)?;
        let s = shared(&shm);
        // SAFETY: as in `_robust_add`; this process is killed while it holds the lock.
        unsafe {
            lock(s)?;
            if stage >= 1 {
                (*s).left += 1;
            }
            if stage >= 2 {
                (*s).right += 1;
            }
        }
        flag(&shm).store(1, Ordering::Release);
        std::thread::sleep(WORKER_TIMEOUT);
        bail!("nobody killed this worker")
    },
};
