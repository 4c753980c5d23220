//! 4.1 `semaphores_counter`: a counter in shared memory, guarded by `raw_sync`'s `Mutex`.

use anyhow::bail;

use super::Exercise;
use crate::kit::{call, fail, segment, wait_all, Barrier, Ctx, Hint, Role, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "semaphores_counter",
    number: "4.1",
    chapter: "semaphores",
    check,
    roles: &[ADD, REOPEN],
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
const ROUNDS: u64 = 40_000;
/// Openings by the late worker while the others are adding.
const REOPENS: u64 = 300;

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
    let start = ctx.name("cstart");
    let _barrier = Barrier::create(&start)?;
    let n = (WORKERS + 1).to_string();
    let rounds = ROUNDS.to_string();
    let mut started = Vec::new();
    for s in &steps {
        started.push(ADD.spawn(&[&name, &rounds, &s.to_string(), &start, &n])?);
    }
    // One more process opens the counter again and again while the others add.
    started.push(REOPEN.spawn(&[&name, &REOPENS.to_string(), &start, &n])?);
    let results = wait_all(started);
    if let Some(Err(why)) = results.iter().find(|r| r.is_err()) {
        return Err(fail(format!("a worker failed: {why}")));
    }
    let want = ROUNDS * steps.iter().sum::<u64>() + REOPENS;
    let got = call("get", || counter.get())?;
    if got == want {
        return Ok(());
    }
    let evidence = format!(
        "{WORKERS} processes added {ROUNDS} times each (steps {steps:?}) while a fifth opened the counter {REOPENS} times and added 1 each time: the counter reads {got}, expected {want}"
    );
    let ones = ROUNDS * u64::from(WORKERS) + REOPENS;
    Err(if got == ones {
        fail(evidence).hint(ADD_N)
    } else if got < want {
        fail(format!("{evidence} ({} lost)", want - got)).hint(ONE_GUARD)
    } else {
        fail(evidence)
    })
}

/// Worker: `_count NAME TIMES STEP START N` — open the counter, wait at the start line,
/// add STEP, TIMES times.
const ADD: Role = Role {
    name: "_count",
    run: |args| {
        let [name, times, step, start, n] = args else {
            bail!("needs NAME TIMES STEP START N")
        };
        let shm = crate::kit::open(name)?;
        let counter = homework::semaphores_counter::Counter::open(&shm)?;
        let step: u64 = step.parse()?;
        Barrier::wait(start, n.parse()?)?;
        for _ in 0..times.parse::<u64>()? {
            counter.add(step)?;
        }
        Ok(String::new())
    },
};

/// Worker: `_count_reopen NAME TIMES START N` — wait at the start line, then TIMES
/// times: open the counter anew and add 1.
const REOPEN: Role = Role {
    name: "_count_reopen",
    run: |args| {
        let [name, times, start, n] = args else {
            bail!("needs NAME TIMES START N")
        };
        let shm = crate::kit::open(name)?;
        Barrier::wait(start, n.parse()?)?;
        for _ in 0..times.parse::<u64>()? {
            let counter = homework::semaphores_counter::Counter::open(&shm)?;
            counter.add(1)?;
            std::thread::yield_now();
        }
        Ok(String::new())
    },
};
