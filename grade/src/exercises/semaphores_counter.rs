//! 4.1 `semaphores_counter`: a counter in shared memory, guarded by `raw_sync`'s `Mutex`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::bail;

use super::Exercise;
use crate::kit::{call, fail, segment, view, wait_all_within, Barrier, Ctx, Hint, Role, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "semaphores_counter",
    number: "4.1",
    chapter: "semaphores",
    check,
    roles: &[ADD, ONCE],
    hints: HINTS,
    linux_only: false,
};

const DEADLOCK: Hint =
    Hint("a guard still alive when you lock again deadlocks: let it drop before the next lock");
const ZERO: Hint =
    Hint("create sets the value to 0: a fresh segment may hold anything at VALUE_OFFSET");
const ONE_GUARD: Hint = Hint("read and write the value under one guard: get() and then a separate write lets another process add in between");
const FROM_EXISTING: Hint = Hint("open must use Mutex::from_existing: Mutex::new re-initialises a lock others may hold at that moment");
const ADD_N: Hint = Hint("add n, not 1");

pub const HINTS: &[Hint] = &[DEADLOCK, ZERO, ONE_GUARD, FROM_EXISTING, ADD_N];

const WORKERS: u32 = 4;
/// How long the adders add: long enough that a read and a write that are not under
/// one guard meet another process's in practically every run, also on a busy machine
/// (where the processes rarely run at the same moment, and a race shows only when one
/// is preempted between the read and the write).
const ADDING: Duration = Duration::from_millis(1200);
/// The adders take a fraction of a second; more than this is a deadlock.
const ADDERS_WITHIN: std::time::Duration = std::time::Duration::from_secs(8);

fn check(ctx: &Ctx) -> Verdict {
    use homework::semaphores_counter::{Counter, VALUE_OFFSET};
    let name = ctx.name("count");
    let shm = segment(&name, 4096)?;
    // A segment used before: the value's bytes are not zero.
    // SAFETY: VALUE_OFFSET + 8 <= 4096, inside the mapping.
    unsafe {
        shm.as_ptr()
            .add(VALUE_OFFSET)
            .cast::<u64>()
            .write(0x5EED_5EED)
    };
    let counter = call("Counter::create", || Counter::create(&shm))?;
    match call("get", || counter.get())? {
        0 => {}
        v => return Err(fail(format!("a new counter reads {v}, not 0")).hint(ZERO)),
    }
    // Each worker adds its own step, so "add 1 whatever n is" shows.
    let steps: Vec<u64> = (1..=u64::from(WORKERS)).map(|w| w * 3 - 1).collect();
    // 1. The adders, started together.
    let start = ctx.name("cstart");
    let _barrier = Barrier::create(&start)?;
    let n = WORKERS.to_string();
    let ms = ADDING.as_millis().to_string();
    let mut started = Vec::new();
    for s in &steps {
        started.push(ADD.spawn(&[&name, &ms, &s.to_string(), &start, &n])?);
    }
    let setting = format!(
        "{WORKERS} processes adding for {:.1} s (steps {steps:?}), started together",
        ADDING.as_secs_f64()
    );
    let results = wait_all_within(started, ADDERS_WITHIN);
    if let Some(Err(why)) = results.iter().find(|r| r.is_err()) {
        let f = fail(format!("{setting}: {why}"));
        return Err(if why.contains("did not finish") {
            f.hint(DEADLOCK)
        } else {
            f
        });
    }
    // Each adder reports how often it added.
    let times: Vec<u64> = results
        .iter()
        .map(|r| r.as_ref().ok().and_then(|t| t.parse().ok()).unwrap_or(0))
        .collect();
    let want: u64 = times.iter().zip(&steps).map(|(t, s)| t * s).sum();
    let setting = format!("{setting}, {} additions", times.iter().sum::<u64>());
    let got = call("get", || counter.get())?;
    if got != want {
        let evidence = format!("{setting}: the counter reads {got}, expected {want}");
        return Err(if got == times.iter().sum::<u64>() {
            fail(evidence).hint(ADD_N)
        } else if got < want {
            fail(format!("{evidence} ({} lost)", want - got)).hint(ONE_GUARD)
        } else {
            fail(evidence)
        });
    }
    // 2. While another process holds the lock, a process that opens the counter and
    // adds must wait: an open that initialises the mutex again lets it through.
    held_lock(ctx, &shm, &name)?;
    let got = call("get", || counter.get())?;
    if got != want + 1 {
        return Err(fail(format!(
            "after one more process added 1 to {want}, the counter reads {got}"
        )));
    }
    Ok(())
}

/// Holds the counter's lock (the raw_sync Mutex at offset 0, as the exercise lays it
/// out) while a worker opens the counter and adds 1; the add must wait for it.
fn held_lock(ctx: &Ctx, shm: &shared_memory::Shmem, name: &str) -> Verdict {
    use raw_sync::locks::{LockInit, Mutex};
    let flag_name = ctx.name("cflag");
    let flag_shm = segment(&flag_name, 4096)?;
    // SAFETY: an AtomicU32 at the start of a zeroed segment of the check's own.
    let flag: &AtomicU32 = unsafe { view(&flag_shm) };
    let base = shm.as_ptr();
    // SAFETY: the exercise puts the mutex at offset 0 and the value at VALUE_OFFSET of
    // this 4096-byte segment, which the student's create has initialised;
    // from_existing leaves the mutex as it is.
    let (lock, _) =
        unsafe { Mutex::from_existing(base, base.add(homework::semaphores_counter::VALUE_OFFSET)) }
            .map_err(|e| anyhow::anyhow!("opening the counter's mutex: {e}"))?;
    let guard = lock
        .lock()
        .map_err(|e| anyhow::anyhow!("locking the counter's mutex: {e}"))?;
    let worker = ONCE.spawn(&[name, &flag_name])?;
    shmbook::wait::until(
        "the worker to open the counter",
        crate::kit::WORKER_TIMEOUT,
        || flag.load(Ordering::SeqCst) >= 1,
    )?;
    std::thread::sleep(Duration::from_millis(200));
    let through = flag.load(Ordering::SeqCst) == 2;
    drop(guard);
    let result = worker.wait(Duration::from_secs(5));
    if through {
        return Err(fail(
            "a process opened the counter and added 1 while another process held its lock: the add did not wait",
        )
        .hint(FROM_EXISTING));
    }
    match result.map(|f| crate::kit::worker_result(&f)) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(why)) => Err(fail(format!(
            "a process adding after the lock was released: {why}"
        ))),
        Err(e) => Err(fail(format!(
            "a process adding after the lock was released: {e:#}"
        ))
        .hint(DEADLOCK)),
    }
}

/// Worker: `_count NAME MS STEP START N` — open the counter, wait at the start line,
/// add STEP for MS milliseconds; prints how often.
const ADD: Role = Role {
    name: "_count",
    run: |args| {
        let [name, ms, step, start, n] = args else {
            bail!("needs NAME MS STEP START N")
        };
        let shm = crate::kit::open(name)?;
        let counter = homework::semaphores_counter::Counter::open(&shm)?;
        let step: u64 = step.parse()?;
        let until = Duration::from_millis(ms.parse()?);
        Barrier::wait(start, n.parse()?)?;
        let began = std::time::Instant::now();
        let mut times = 0u64;
        while began.elapsed() < until {
            for _ in 0..1000 {
                counter.add(step)?;
            }
            times += 1000;
        }
        Ok(times.to_string())
    },
};

/// Worker: `_count_once NAME FLAG` — open the counter (flag 1), add 1 (flag 2).
const ONCE: Role = Role {
    name: "_count_once",
    run: |args| {
        let [name, flag_name] = args else {
            bail!("needs NAME FLAG")
        };
        let shm = crate::kit::open(name)?;
        let flag_shm = crate::kit::open(flag_name)?;
        // SAFETY: as in `held_lock`.
        let flag: &AtomicU32 = unsafe { view(&flag_shm) };
        let counter = homework::semaphores_counter::Counter::open(&shm)?;
        flag.store(1, Ordering::SeqCst);
        counter.add(1)?;
        flag.store(2, Ordering::SeqCst);
        Ok(String::new())
    },
};
