//! 5.2 `alternatives_ring`: a single-producer single-consumer ring buffer in a segment.

use std::mem::size_of;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::Exercise;
use crate::kit::{
    call_plain, fail, segment, view, worker_result, Ctx, Hint, Role, Verdict, WORKER_TIMEOUT,
};

pub const EXERCISE: Exercise = Exercise {
    name: "alternatives_ring",
    number: "5.2",
    chapter: "alternatives",
    check,
    roles: &[PUSH, POP],
    hints: HINTS,
    linux_only: false,
};

const VISIBLE: Hint = Hint("a value pushed must become visible: store head after writing the slot, and load head and tail fresh on every call");
const EMPTY: Hint = Hint("the ring is empty when head == tail");
const FULL_AT: Hint = Hint("with head and tail counting every value, the ring is full when head - tail == CAPACITY (no slot is left free)");
const REFUSE: Hint = Hint("refuse when head - tail == CAPACITY");
const SLOT: Hint = Hint("value number i lives in slots[i % CAPACITY]; pop reads slots[tail % CAPACITY] and then advances tail");
const ORDER: Hint = Hint("write the slot, then store head with Release; load head with Acquire before reading the slot; read the slot before storing tail (Release), and load tail with Acquire before overwriting a slot");

pub const HINTS: &[Hint] = &[VISIBLE, EMPTY, FULL_AT, REFUSE, SLOT, ORDER];

const RING_VALUES: u64 = 200_000;
/// How long a ring worker waits for the other side before it gives up.
const RING_PATIENCE: Duration = Duration::from_secs(10);

fn check(ctx: &Ctx) -> Verdict {
    use homework::alternatives_ring::{Ring, CAPACITY};
    let cap = CAPACITY as u64;
    // 1. One process: empty, full, in order, around the end; values vary by run.
    let base = u64::from(std::process::id()) << 20;
    let name = ctx.name("ring1");
    let shm = segment(&name, size_of::<Ring>())?;
    // SAFETY: Ring is atomics only (and padding); all zeros is an empty ring.
    let ring: &Ring = unsafe { view(&shm) };
    let push = |v: u64| call_plain("push", || ring.push(v));
    let pop = || call_plain("pop", || ring.pop());
    if let Some(v) = pop()? {
        return Err(fail(format!("pop on an empty ring returned {v}")).hint(EMPTY));
    }
    for i in 0..cap {
        if !push(base + i)? {
            return Err(fail(format!(
                "the ring took only {i} values; it holds {CAPACITY}"
            ))
            .hint(FULL_AT));
        }
    }
    if push(base + cap)? {
        return Err(fail(format!(
            "push on a full ring of {CAPACITY} returned true: it overwrote a value"
        ))
        .hint(REFUSE));
    }
    // Drain the full ring, then pass values one at a time until head and tail have
    // gone around the slots twice more.
    for i in 0..3 * cap {
        if i >= cap && !push(base + i)? {
            return Err(fail(format!(
                "push refused value number {i} although the ring was empty"
            )));
        }
        let got = pop()?;
        if got != Some(base + i) {
            return Err(fail(format!(
                "pop number {i} returned {got:?}, expected Some({})",
                base + i
            ))
            .hint(SLOT));
        }
    }
    drop(shm);
    // 2. Two processes, many values.
    let name = ctx.name("ring2");
    let _shm = segment(&name, size_of::<Ring>())?;
    let n = RING_VALUES.to_string();
    let consumer = POP.spawn(&[&name, &n])?;
    let producer = PUSH.spawn(&[&name, &n])?;
    // The consumer first: when it fails, the producer (killed as it drops) would only
    // wait for room that never comes.
    let popped = worker_result(&consumer.wait(WORKER_TIMEOUT)?);
    if let Err(why) = popped {
        return Err(fail(format!(
            "a producer and a consumer process, {RING_VALUES} values: the consumer: {why}"
        ))
        .hint(ORDER));
    }
    let pushed = worker_result(&producer.wait(WORKER_TIMEOUT)?);
    if let Err(why) = pushed {
        return Err(fail(format!(
            "a producer and a consumer process, {RING_VALUES} values: the producer: {why}"
        )));
    }
    // 3. The memory ordering, which x86 does not show: loom runs push and pop in two
    // threads on a ring of 2 slots, in every interleaving the memory model allows.
    if let Err(why) = crate::model::check(ordering_model) {
        return Err(fail(format!(
            "under the memory model (loom, a producer and a consumer thread, CAPACITY 2): {why}"
        ))
        .hint(ORDER));
    }
    Ok(())
}

/// The producer pushes 1, 2, 3 (waiting while the ring is full); the consumer pops
/// until it has three values, which must be 1, 2, 3.
fn ordering_model() {
    use crate::model::alternatives_ring::Ring;
    const N: u64 = 3;
    let ring = loom::sync::Arc::new(Ring::default());
    let producer = {
        let ring = ring.clone();
        loom::thread::spawn(move || {
            for v in 1..=N {
                while !ring.push(v) {
                    loom::thread::yield_now();
                }
            }
        })
    };
    let mut got = Vec::new();
    while got.len() < N as usize {
        match ring.pop() {
            Some(v) => got.push(v),
            None => loom::thread::yield_now(),
        }
    }
    assert!(
        got == [1, 2, 3],
        "the consumer popped {got:?}, expected [1, 2, 3]"
    );
    producer.join().expect("the producer thread");
}

/// Worker: `_ring_push NAME N` — push 0..N, waiting while the ring is full.
const PUSH: Role = Role {
    name: "_ring_push",
    run: |args| {
        let [name, n] = args else {
            bail!("needs NAME N")
        };
        let shm = crate::kit::open(name)?;
        // SAFETY: as in `check`.
        let ring: &homework::alternatives_ring::Ring = unsafe { view(&shm) };
        let deadline = Instant::now() + RING_PATIENCE;
        for i in 0..n.parse::<u64>()? {
            while !ring.push(i) {
                if Instant::now() > deadline {
                    bail!("the ring stayed full (at value {i})");
                }
                std::thread::yield_now();
            }
        }
        Ok(String::new())
    },
};

/// Worker: `_ring_pop NAME N` — pop N values and check they are 0..N in order.
const POP: Role = Role {
    name: "_ring_pop",
    run: |args| {
        let [name, n] = args else {
            bail!("needs NAME N")
        };
        let n: u64 = n.parse()?;
        let shm = crate::kit::open(name)?;
        // SAFETY: as in `check`.
        let ring: &homework::alternatives_ring::Ring = unsafe { view(&shm) };
        let deadline = Instant::now() + RING_PATIENCE;
        let mut next = 0;
        while next < n {
            match ring.pop() {
                Some(v) if v == next => next += 1,
                Some(v) => bail!("value {v} arrived where {next} was due"),
                None if Instant::now() > deadline => {
                    bail!("only {next} of {n} values arrived")
                }
                None => std::thread::yield_now(),
            }
        }
        Ok(format!("{n}"))
    },
};
