//! 3.2 `arrays_ready`: hand a filled array to another process with a ready flag.

use std::mem::size_of;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::Exercise;
use crate::kit::{
    catch, fail, gives_up, segment, view, worker_result, Ctx, GaveUp, Hint, Role, Verdict,
};

pub const EXERCISE: Exercise = Exercise {
    name: "arrays_ready",
    number: "3.2",
    chapter: "arrays",
    check,
    roles: &[READ, WRITE],
    hints: HINTS,
    linux_only: false,
};

const BOUND: Hint =
    Hint("bound the wait: look at the clock in the loop and give up after the timeout");
const WAIT: Hint =
    Hint("loop until ready.load(Ordering::Acquire) == 1 before reading len and values");
const ORDER: Hint = Hint(
    "store the values and len before the flag (Release), and load the flag (Acquire) before them",
);
const PROMPT: Hint = Hint("look at the flag again and again (sleeping a little between looks), not once after sleeping the whole timeout");
const WAIT_FIRST: Hint =
    Hint("an error only after the timeout has passed: wait for the flag until then");
const TOO_MANY: Hint = Hint("check values.len() against CAPACITY first and return an error");
const LENGTH_FIRST: Hint = Hint("check the length before writing anything");

pub const HINTS: &[Hint] = &[
    BOUND,
    WAIT,
    ORDER,
    PROMPT,
    WAIT_FIRST,
    TOO_MANY,
    LENGTH_FIRST,
];

/// How long after the writer has published the reader may take to return.
const PROMPT_WITHIN: Duration = Duration::from_secs(2);

fn check(ctx: &Ctx) -> Verdict {
    use homework::arrays_ready::{publish, Board, CAPACITY};
    // 1. The reader starts first and must wait for the writer; how many values there
    // are varies from run to run, and includes a full board.
    let n = 1 + std::process::id() as usize % (CAPACITY - 1);
    for n in [n, CAPACITY] {
        let name = ctx.name(&format!("ready{n}"));
        let _shm = segment(&name, size_of::<Board>())?;
        let reader = READ.spawn(&[&name, "4000"])?;
        std::thread::sleep(Duration::from_millis(150));
        let wrote = WRITE.run(&[&name, &n.to_string()])?;
        let published = Instant::now();
        if let Err(why) = wrote {
            return Err(fail(format!(
                "the writer failed publishing {n} values: {why}"
            )));
        }
        // Waited for no longer than it may take: a reader that sleeps its whole timeout
        // fails at the bound, not when it wakes.
        let finished = match reader.wait(PROMPT_WITHIN) {
            Ok(f) => f,
            Err(e) if format!("{e:#}").contains("did not finish") => {
                return Err(fail(format!(
                "the reader (timeout 4 s) had not returned {} s after the values were published",
                PROMPT_WITHIN.as_secs()
            ))
                .hint(PROMPT))
            }
            Err(e) => return Err(e.into()),
        };
        let got = worker_result(&finished);
        let took = published.elapsed();
        let want = format!("{n} {}", expected_sum(n as u64));
        match got {
            Err(why) => return Err(fail(format!("the reader failed: {why}"))),
            Ok(g) if g == "0 0" => {
                return Err(
                    fail("the reader returned nothing: it did not wait for the writer").hint(WAIT),
                )
            }
            Ok(g) if g != want => {
                return Err(
                    fail(format!("the reader got {g} (count, sum); expected {want}")).hint(ORDER),
                )
            }
            Ok(_) => {}
        }
        if took > PROMPT_WITHIN {
            return Err(fail(format!(
                "the reader (timeout 4 s) returned {:.1} s after the values were published; expected within {} s",
                took.as_secs_f64(),
                PROMPT_WITHIN.as_secs()
            ))
            .hint(PROMPT));
        }
    }
    // 2. Nobody publishes: the reader must give up, after its timeout and not before.
    let name = ctx.name("idle");
    let _idle = segment(&name, size_of::<Board>())?;
    let what = "read(timeout = 300 ms) on a board nobody publishes";
    let began = Instant::now();
    match gives_up(READ.spawn(&[&name, "300"])?, began, Duration::from_secs(3))? {
        GaveUp::Never(limit) => {
            return Err(fail(format!(
                "{what} was still waiting after {} s",
                limit.as_secs()
            ))
            .hint(BOUND))
        }
        GaveUp::Succeeded(g, _) => {
            return Err(fail(format!(
                "{what} returned {g} (count, sum) instead of an error"
            ))
            .hint(WAIT))
        }
        GaveUp::Failed(after) if after < Duration::from_millis(250) => {
            return Err(
                fail(format!("{what} gave up after {} ms", after.as_millis())).hint(WAIT_FIRST),
            )
        }
        GaveUp::Failed(_) => {}
    }
    // 3. Too many values: an error, and nothing published.
    let name = ctx.name("full");
    let shm = segment(&name, size_of::<Board>())?;
    // SAFETY: Board is atomics only; all zeros is a valid empty board; `board` does not
    // outlive `shm`.
    let board: &Board = unsafe { view(&shm) };
    let too_many = vec![1u64; CAPACITY + 1];
    match catch(|| publish(board, &too_many)) {
        Err(panic) => {
            return Err(fail(format!(
                "publish of {} values panicked: {panic}",
                CAPACITY + 1
            ))
            .hint(TOO_MANY))
        }
        Ok(Ok(())) => {
            return Err(fail(format!(
                "publish accepted {} values for a board of {CAPACITY}",
                CAPACITY + 1
            ))
            .hint(TOO_MANY))
        }
        Ok(Err(_)) if board.ready.load(Ordering::Acquire) != 0 => {
            return Err(
                fail("publish refused too many values but raised the ready flag anyway")
                    .hint(LENGTH_FIRST),
            )
        }
        Ok(Err(_)) => {}
    }
    // 4. The memory ordering, which x86 does not show: loom runs publish and read in
    // two threads in every interleaving the memory model allows.
    if let Err(why) = crate::model::check(ordering_model) {
        return Err(fail(format!(
            "under the memory model (loom, publish and read in two threads): {why}"
        ))
        .hint(ORDER));
    }
    Ok(())
}

/// One thread publishes two values while the other reads with a zero timeout: a read
/// that succeeds must see both values.
fn ordering_model() {
    use crate::model::arrays_ready::{publish, read, Board};
    let board = loom::sync::Arc::new(Board::default());
    let writer = {
        let board = board.clone();
        loom::thread::spawn(move || publish(&board, &[11, 22]).expect("publish of 2 values"))
    };
    if let Ok(values) = read(&board, Duration::ZERO) {
        assert!(
            values == [11, 22],
            "read saw the ready flag but returned {values:?} instead of [11, 22]"
        );
    }
    writer.join().expect("the writer thread");
}

fn expected_sum(n: u64) -> u64 {
    (0..n).map(|i| i * 7 + 1).sum()
}

/// Worker: `_ready_read NAME TIMEOUT_MS` — read the board, print count and sum.
const READ: Role = Role {
    name: "_ready_read",
    run: |args| {
        let [name, ms] = args else {
            bail!("needs NAME TIMEOUT_MS")
        };
        let shm = crate::kit::open(name)?;
        // SAFETY: see `view`; the checker made the segment Board-sized and zeroed.
        let board = unsafe { view(&shm) };
        let timeout = Duration::from_millis(ms.parse()?);
        let began = Instant::now();
        // An error says how long read took (see `kit::gives_up`).
        let values = homework::arrays_ready::read(board, timeout)
            .map_err(|e| anyhow::anyhow!("{} ms: {e:#}", began.elapsed().as_millis()))?;
        Ok(format!("{} {}", values.len(), values.iter().sum::<u64>()))
    },
};

/// Worker: `_ready_write NAME N` — publish N values.
const WRITE: Role = Role {
    name: "_ready_write",
    run: |args| {
        let [name, n] = args else {
            bail!("needs NAME N")
        };
        let n: u64 = n.parse()?;
        let shm = crate::kit::open(name)?;
        // SAFETY: as in READ.
        let board = unsafe { view(&shm) };
        let values: Vec<u64> = (0..n).map(|i| i * 7 + 1).collect();
        homework::arrays_ready::publish(board, &values)?;
        Ok(String::new())
    },
};
