//! 2.1 `sizing_pages`: how many pages does a segment of `len` bytes span?

use super::Exercise;
use crate::kit::{call_plain, catch, fail, segment, Ctx, Hint, Role, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "sizing_pages",
    number: "2.1",
    chapter: "sizing",
    check,
    roles: &[TOUCH],
    hints: HINTS,
    linux_only: false,
};

const NO_LOOP: Hint = Hint("pages() is arithmetic: no loop is needed");
const OVERFLOW: Hint = Hint("len + page - 1 overflows near usize::MAX: use len.div_ceil(page)");
const ROUND_UP: Hint = Hint("round up: a partial page still takes a whole page");
const EXACT: Hint =
    Hint("a length that is a whole number of pages needs no extra page (and 0 bytes need none)");
const PAGE_SIZE: Hint =
    Hint("ask the system for its page size (sysconf(_SC_PAGESIZE)); it is not 4096 here");

pub const HINTS: &[Hint] = &[NO_LOOP, OVERFLOW, ROUND_UP, EXACT, PAGE_SIZE];

fn check(ctx: &Ctx) -> Verdict {
    use homework::sizing_pages::pages;
    let ps = shmbook::os::page_size();
    // Fixed lengths around page boundaries, then lengths that vary from run to run (a
    // table of answers cannot pass).
    let mut cases = vec![
        0,
        1,
        ps - 1,
        ps,
        ps + 1,
        10 * ps,
        3 * ps - 1,
        usize::MAX,
        usize::MAX - ps,
    ];
    let seed = std::process::id() as usize;
    for k in 1..=8 {
        let pages = seed.wrapping_mul(2_654_435_761).rotate_left(k) % 100_000 + 2;
        cases.push(pages * ps - k as usize % 3);
    }
    for len in cases {
        let want = len.div_ceil(ps);
        let got = match catch(|| pages(len)) {
            Ok(g) => g,
            Err(panic) => {
                let f = fail(format!("pages({len}) panicked: {panic}"));
                return Err(if panic.contains("overflow") {
                    f.hint(OVERFLOW)
                } else {
                    f
                });
            }
        };
        if got == want {
            continue;
        }
        let f = fail(format!(
            "pages({len}) is {got}, expected {want} with {ps}-byte pages"
        ));
        return Err(if ps != 4096 && got == len.div_ceil(4096) {
            f.hint(PAGE_SIZE)
        } else if got == len / ps && len % ps != 0 {
            f.hint(ROUND_UP)
        } else if got == want + 1 {
            f.hint(EXACT)
        } else {
            f
        });
    }
    // The promise behind the number: the last byte of the last page can be touched,
    // for a length just over one page and one just under three.
    for len in [ps + 1, 3 * ps - 1] {
        let name = ctx.name(&format!("pages{len}"));
        let _shm = segment(&name, len)?;
        let last = call_plain("pages", || pages(len))? * ps - 1;
        if let Err(why) = TOUCH.run(&[&name, &last.to_string()])? {
            return Err(fail(format!(
                "touching byte {last} of a {len}-byte segment failed: {why}"
            )));
        }
    }
    Ok(())
}

/// Worker: `_touch NAME OFFSET` — write one byte of a segment at OFFSET.
const TOUCH: Role = Role {
    name: "_touch",
    run: |args| {
        let [name, offset] = args else {
            anyhow::bail!("needs NAME OFFSET")
        };
        let offset: usize = offset.parse()?;
        let shm = crate::kit::open(name)?;
        // SAFETY: the mapping spans whole pages; the check passes an offset within the
        // last page of the segment (the point of the exercise). A wrong offset faults,
        // which the check reports.
        unsafe { shm.as_ptr().add(offset).write_volatile(1) };
        Ok(String::new())
    },
};
