//! 3.1 `arrays_header`: open an array another process made, and trust nothing.

use std::mem::size_of;

use super::Exercise;
use crate::kit::{fail, segment, worker_result, Ctx, Failure, Hint, Role, Verdict, WORKER_TIMEOUT};

pub const EXERCISE: Exercise = Exercise {
    name: "arrays_header",
    number: "3.1",
    chapter: "arrays",
    check,
    roles: &[SUM],
    hints: HINTS,
    linux_only: false,
};

const TRUST: Hint =
    Hint("a count taken on trust can make the sum loop for a very long time: check it first");
const MAGIC: Hint = Hint(
    "compare magic with MAGIC before anything else: it says whether the bytes are an array at all",
);
const VERSION: Hint = Hint("refuse a version you do not know: its layout may differ");
const ELEM: Hint = Hint("check elem_size == size_of::<u64>()");
const SHORT: Hint = Hint("check len() >= size_of::<Header>() before reading the header");
const ONE_MORE: Hint = Hint("count must fit in len() - size_of::<Header>(); the rest of the last page reads as zeros, so reading there does not crash, and is still wrong");
const FAR: Hint = Hint("never take count on trust: compare it with the room in the segment (and mind overflow in count * 8) before building a slice");

pub const HINTS: &[Hint] = &[TRUST, MAGIC, VERSION, ELEM, SHORT, ONE_MORE, FAR];

/// One segment for `sum`: what it is, its length, its header (none: leave the bytes
/// zero), how many elements to write, and the expected sum (none: an error).
struct Case {
    what: &'static str,
    len: usize,
    header: Option<homework::arrays_header::Header>,
    written: u64,
    want: Option<u64>,
    hint: Option<Hint>,
}

fn check(ctx: &Ctx) -> Verdict {
    use homework::arrays_header::{Header, MAGIC as M, VERSION as V};
    let good = Header {
        magic: M,
        version: V,
        elem_size: 8,
        count: 0,
    };
    let hsize = size_of::<Header>();
    let ps = shmbook::os::page_size();
    // The element values vary from run to run: a sum cannot be guessed.
    let k = 3 + u64::from(std::process::id() % 11);
    let sum_of = |n: u64| (0..n).map(|i| i * k).fold(0u64, u64::wrapping_add);
    let ok = |what, len, count: u64| Case {
        what,
        len,
        header: Some(Header { count, ..good }),
        written: count,
        want: Some(sum_of(count)),
        hint: None,
    };
    let bad = |what, len, header: Option<Header>, hint| Case {
        what,
        len,
        header,
        written: header.map_or(0, |h| h.count.min(10)),
        want: None,
        hint: Some(hint),
    };
    // A page holds this many elements after the header.
    let per_page = ((ps - hsize) / 8) as u64;
    let cases = [
        ok("a valid array of 1000", hsize + 8 * 1000, 1000),
        ok(
            "a valid array that fills its segment exactly",
            hsize + 8 * 500,
            500,
        ),
        ok("a valid array that fills a whole page", ps, per_page),
        ok("an empty valid array", hsize, 0),
        bad(
            "a wrong magic number",
            hsize + 80,
            Some(Header {
                magic: 7,
                count: 10,
                ..good
            }),
            MAGIC,
        ),
        bad(
            "version 2",
            hsize + 80,
            Some(Header {
                version: 2,
                count: 10,
                ..good
            }),
            VERSION,
        ),
        bad(
            "4-byte elements",
            hsize + 80,
            Some(Header {
                elem_size: 4,
                count: 10,
                ..good
            }),
            ELEM,
        ),
        bad("a segment shorter than a header", 8, None, SHORT),
        Case {
            written: 500,
            ..bad(
                "a count one more than the segment holds",
                hsize + 8 * 500,
                Some(Header { count: 501, ..good }),
                ONE_MORE,
            )
        },
        Case {
            written: 10,
            ..bad(
                "a count far beyond the segment",
                hsize + 80,
                Some(Header {
                    count: u64::MAX / 4,
                    ..good
                }),
                FAR,
            )
        },
        Case {
            written: 10,
            // count * 8 wraps around to 8: a length check done in wrapping arithmetic
            // lets it through.
            ..bad(
                "a count whose size in bytes wraps around to 8",
                hsize + 80,
                Some(Header {
                    count: (1 << 61) + 1,
                    ..good
                }),
                FAR,
            )
        },
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let name = ctx.name(&format!("hdr{i}"));
        let shm = segment(&name, c.len)?;
        if let Some(h) = c.header {
            // SAFETY: the segment holds the header (len >= hsize for these cases) and
            // `written` elements after it (len = hsize + 8 × at least `written`); the
            // mapping is page-aligned, so both are aligned.
            unsafe {
                shm.as_ptr().cast::<Header>().write(h);
                let data = shm.as_ptr().add(hsize).cast::<u64>();
                for e in 0..c.written {
                    data.add(e as usize).write(e * k);
                }
            }
        }
        let what = c.what;
        // In a process of its own: a sum that reads past the mapping crashes there.
        let got = match SUM.spawn(&[&name])?.wait(WORKER_TIMEOUT) {
            Ok(f) => worker_result(&f),
            Err(e) => Err(format!("{e:#}")),
        };
        let trap = |f: Failure| match (c.want, c.hint) {
            (None, Some(h)) => f.hint(h),
            _ => f,
        };
        match (got, c.want) {
            (Ok(s), Some(w)) if s == w.to_string() => {}
            (Ok(s), Some(w)) => return Err(fail(format!("sum of {what} is {s}, expected {w}"))),
            (Ok(s), None) => {
                return Err(trap(fail(format!(
                    "sum accepted {what} (and returned {s})"
                ))))
            }
            (Err(why), _)
                if why.starts_with("a worker process") || why.contains("did not finish") =>
            {
                return Err(trap(fail(format!(
                    "sum on {what}: {}",
                    why.replace("a worker process", "the process running it")
                ))))
            }
            (Err(why), Some(_)) => return Err(fail(format!("sum refused {what}: {why}"))),
            (Err(_), None) => {}
        }
        drop(shm);
    }
    Ok(())
}

/// Worker: `_sum NAME` — the student's sum of the segment NAME.
const SUM: Role = Role {
    name: "_sum",
    run: |args| {
        let [name] = args else {
            anyhow::bail!("needs NAME")
        };
        Ok(homework::arrays_header::sum(name)?.to_string())
    },
};
