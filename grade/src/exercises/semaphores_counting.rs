//! 4.2 `semaphores_counting`: a counting semaphore from `raw_sync`'s `Mutex` and `Event`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;

use super::Exercise;
use crate::kit::{call, fail, gives_up, segment, view, Barrier, Ctx, GaveUp, Hint, Role, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "semaphores_counting",
    number: "4.2",
    chapter: "semaphores",
    check,
    roles: &[ENTER, TRY, WAIT],
    hints: HINTS,
    linux_only: false,
};

const HANG: Hint = Hint(
    "release must set the Event, and acquire must wait with the time that is left, not forever",
);
const ONE_SECTION: Hint = Hint(
    "look at the count and take the permit in one critical section, holding the mutex throughout",
);
const WAKE: Hint = Hint("a release must wake a waiter: set the Event after returning the permit; an auto-reset Event wakes one waiter per set, so a waiter that finds permits left should set it again");
const SLOW: Hint = Hint("waiters find permits only when their wait times out: release must set the Event, and a waiter that takes a permit while more are left should set it again (an auto-reset Event wakes one waiter per set)");
const K_AT_ONCE: Hint = Hint(
    "a semaphore with K permits lets K in at once: hold the mutex only while changing the count",
);
const TIMEOUT: Hint = Hint("with no permit left, acquire waits for the event at most until its deadline and then returns an error; a wait that timed out is not a permit");
const PERMITS: Hint = Hint("create sets the count to the permits it is given");

pub const HINTS: &[Hint] = &[HANG, ONE_SECTION, WAKE, SLOW, K_AT_ONCE, TIMEOUT, PERMITS];

/// What the workers record, in a segment of the checker's own.
#[repr(C)]
struct Inside {
    now: AtomicU32,
    most: AtomicU32,
    entries: AtomicU32,
}

/// The waves: workers hold permits for WORKERS × ROUNDS × 15 ms / K ≤ 180 ms in all;
/// with starting the processes, a correct semaphore finishes in well under a second,
/// also when other builds load the machine. Waiters that are never woken find a permit
/// only when their wait (of a second, see the exercise) times out: about 3 s.
const WORKERS: usize = 8;
const ROUNDS: u32 = 3;
const PROMPT: Duration = Duration::from_secs(2);
/// A woken waiter runs within milliseconds; one that finds the permit when its own
/// wait times out (a second) comes 800 ms late.
const WAKE_WITHIN: Duration = Duration::from_millis(400);
/// The hammer: few workers, one permit, many short rounds, started together.
const HAMMER_WORKERS: usize = 3;
const HAMMER_ROUNDS: u32 = 3000;

fn check(ctx: &Ctx) -> Verdict {
    use homework::semaphores_counting::{Semaphore, SIZE};
    // 1. No permit: acquire must give up after its timeout, not before, not never. Its
    // worker waits while the next part runs.
    let name = ctx.name("sem0");
    let shm = segment(&name, SIZE.max(4096))?;
    let _sem = call("Semaphore::create", || Semaphore::create(&shm, 0))?;
    let began = Instant::now();
    let waiter = TRY.spawn(&[&name, "300"])?;
    // 2. A release wakes the waiter at once, not when its wait times out.
    wake(ctx)?;
    // 1, judged now (before the waves, which a wait that timed out taken for a permit
    // would fail with less telling evidence).
    let what = "acquire(300 ms) on a semaphore created with 0 permits";
    match gives_up(waiter, began, Duration::from_secs(4))? {
        GaveUp::Never(limit) => {
            return Err(fail(format!(
                "{what} was still waiting after {} s",
                limit.as_secs()
            ))
            .hint(TIMEOUT))
        }
        GaveUp::Succeeded(_, after) => {
            let ms = after.as_millis();
            let f = fail(format!("{what} succeeded after {ms} ms"));
            // At once: a permit was there; after the timeout: the timeout was taken
            // for a permit.
            return Err(if ms < 250 {
                f.hint(PERMITS)
            } else {
                f.hint(TIMEOUT)
            });
        }
        GaveUp::Failed(after) if after < Duration::from_millis(250) => {
            return Err(
                fail(format!("{what} gave up after {} ms", after.as_millis())).hint(TIMEOUT),
            )
        }
        GaveUp::Failed(_) => {}
    }
    // 3. Waves: K of 8 inside at once, woken promptly; K varies from run to run.
    let permits = 2 + std::process::id() % 2;
    run(ctx, "wave", permits, WORKERS, ROUNDS, 15)?;
    // 4. The hammer: one permit, many rounds started together; a count taken without
    // the mutex lets two in.
    run(ctx, "hammer", 1, HAMMER_WORKERS, HAMMER_ROUNDS, 0)
}

/// The check holds the only permit; a worker waits for it; 200 ms after the worker
/// began waiting, the check releases it. The worker must have it within WAKE_WITHIN.
fn wake(ctx: &Ctx) -> Verdict {
    use homework::semaphores_counting::{Semaphore, SIZE};
    let name = ctx.name("semwake");
    let flag_name = ctx.name("semflag");
    let shm = segment(&name, SIZE.max(4096))?;
    let flag_shm = segment(&flag_name, 4096)?;
    // SAFETY: an AtomicU32 at the start of a zeroed segment of the check's own.
    let flag: &AtomicU32 = unsafe { view(&flag_shm) };
    let sem = call("Semaphore::create", || Semaphore::create(&shm, 1))?;
    call("acquire of the only permit", || {
        sem.acquire(Duration::from_secs(2))
    })?;
    let waiter = WAIT.spawn(&[&name, &flag_name])?;
    shmbook::wait::until("the waiter to start", crate::kit::WORKER_TIMEOUT, || {
        flag.load(Ordering::SeqCst) == 1
    })?;
    std::thread::sleep(Duration::from_millis(200));
    let released = now_ns();
    call("release", || sem.release())?;
    let setting = "one permit, held while another process waits for it";
    match crate::kit::worker_result(&waiter.wait(Duration::from_secs(8))?) {
        Ok(at) => {
            let latency = at
                .parse::<u128>()
                .unwrap_or(u128::MAX)
                .saturating_sub(released)
                / 1_000_000;
            if latency > WAKE_WITHIN.as_millis() {
                return Err(fail(format!(
                    "{setting}: the waiter got the permit {latency} ms after the release; expected within {} ms",
                    WAKE_WITHIN.as_millis()
                ))
                .hint(WAKE));
            }
            Ok(())
        }
        Err(why) => Err(fail(format!("{setting}: the waiter failed: {why}")).hint(WAKE)),
    }
}

/// Nanoseconds on the wall clock, which every process on the machine shares.
fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Starts `workers` processes on a semaphore of `permits`, each entering `rounds`
/// times and staying `hold_ms`; checks what they recorded.
fn run(ctx: &Ctx, tag: &str, permits: u32, workers: usize, rounds: u32, hold_ms: u64) -> Verdict {
    use homework::semaphores_counting::{Semaphore, SIZE};
    let name = ctx.name(tag);
    let stats_name = ctx.name(&format!("{tag}stat"));
    let start = ctx.name(&format!("{tag}start"));
    let shm = segment(&name, SIZE.max(4096))?;
    let stats_shm = segment(&stats_name, 4096)?;
    let _barrier = Barrier::create(&start)?;
    let _sem = call("Semaphore::create", || Semaphore::create(&shm, permits))?;
    let began = Instant::now();
    let args = vec![
        vec![
            name.clone(),
            stats_name.clone(),
            start.clone(),
            workers.to_string(),
            rounds.to_string(),
            hold_ms.to_string(),
        ];
        workers
    ];
    let results = crate::kit::workers(&ENTER, &args)?;
    let took = began.elapsed();
    // SAFETY: Inside is atomics only; the segment is zeroed and long enough.
    let stats: &Inside = unsafe { view(&stats_shm) };
    let most = stats.most.load(Ordering::SeqCst);
    let setting = format!("{workers} processes × {rounds} entries, {permits} permit(s)");
    if most > permits {
        return Err(fail(format!("{setting}: {most} were inside at once")).hint(ONE_SECTION));
    }
    if let Some(Err(why)) = results.iter().find(|r| r.is_err()) {
        return Err(fail(format!("{setting}: a worker failed: {why}")).hint(WAKE));
    }
    let entries = stats.entries.load(Ordering::SeqCst);
    let want = workers as u32 * rounds;
    if entries != want {
        return Err(fail(format!(
            "{setting}: {entries} entries recorded, expected {want}"
        )));
    }
    if hold_ms > 0 && took > PROMPT {
        return Err(fail(format!(
            "{setting}, each held {hold_ms} ms: took {:.1} s (waiters not woken by a release?), expected under {:.1} s",
            took.as_secs_f64(),
            PROMPT.as_secs_f64()
        ))
        .hint(SLOW));
    }
    if hold_ms > 0 && most < permits {
        let f = fail(format!("{setting}: never more than {most} inside at once"));
        return Err(if most == 1 {
            f.hint(K_AT_ONCE)
        } else {
            f.hint(PERMITS)
        });
    }
    Ok(())
}

/// Worker: `_sem_worker SEM STATS START N ROUNDS HOLD_MS` — wait at the start line,
/// then enter ROUNDS times, recording who is inside.
const ENTER: Role = Role {
    name: "_sem_worker",
    run: |args| {
        let [name, stats_name, start, n, rounds, hold] = args else {
            bail!("needs SEM STATS START N ROUNDS HOLD_MS")
        };
        let shm = crate::kit::open(name)?;
        let stats_shm = crate::kit::open(stats_name)?;
        // SAFETY: as in `run`.
        let stats: &Inside = unsafe { view(&stats_shm) };
        let sem = homework::semaphores_counting::Semaphore::open(&shm)?;
        let hold = Duration::from_millis(hold.parse()?);
        Barrier::wait(start, n.parse()?)?;
        for _ in 0..rounds.parse::<u32>()? {
            sem.acquire(Duration::from_secs(10))?;
            let now = stats.now.fetch_add(1, Ordering::SeqCst) + 1;
            stats.most.fetch_max(now, Ordering::SeqCst);
            if hold.is_zero() {
                // A few microseconds inside, so that two holders would overlap.
                for _ in 0..200 {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::sleep(hold);
            }
            stats.now.fetch_sub(1, Ordering::SeqCst);
            stats.entries.fetch_add(1, Ordering::SeqCst);
            sem.release()?;
            if !hold.is_zero() {
                // Give the waiters their turn: they get in only if release wakes them.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(String::new())
    },
};

/// Worker: `_sem_wait SEM FLAG` — raise the flag, acquire (at most 5 s), print when
/// (nanoseconds on the wall clock).
const WAIT: Role = Role {
    name: "_sem_wait",
    run: |args| {
        let [name, flag_name] = args else {
            bail!("needs SEM FLAG")
        };
        let shm = crate::kit::open(name)?;
        let flag_shm = crate::kit::open(flag_name)?;
        let sem = homework::semaphores_counting::Semaphore::open(&shm)?;
        // SAFETY: as in `wake`.
        unsafe { view::<AtomicU32>(&flag_shm) }.store(1, Ordering::SeqCst);
        sem.acquire(Duration::from_secs(5))?;
        Ok(now_ns().to_string())
    },
};

/// Worker: `_sem_try SEM MS` — acquire with a timeout of MS milliseconds; says how
/// long it took.
const TRY: Role = Role {
    name: "_sem_try",
    run: |args| {
        let [name, ms] = args else {
            bail!("needs SEM MS")
        };
        let shm = crate::kit::open(name)?;
        let sem = homework::semaphores_counting::Semaphore::open(&shm)?;
        let timeout = Duration::from_millis(ms.parse()?);
        crate::kit::timed(|| sem.acquire(timeout))
    },
};
