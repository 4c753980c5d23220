//! 2.2 `sizing_reserved`: how much memory has a segment really taken?

use super::Exercise;
use crate::kit::{call, catch, fail, segment, skip, Ctx, Failure, Hint, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "sizing_reserved",
    number: "2.2",
    chapter: "sizing",
    check,
    roles: &[],
    hints: HINTS,
    linux_only: true,
};

const ONE_STAT: Hint = Hint("one stat of /dev/shm/NAME answers the question");
const ST_SIZE: Hint = Hint("that is the size the segment was created with (st_size); tmpfs reserves a page only when it is first touched (written, or read through a mapping): count st_blocks × 512");
const UNITS: Hint = Hint("st_blocks counts 512-byte units (not pages): multiply it by 512");
const MISSING: Hint =
    Hint("a segment that does not exist has no size: return the error (with its name), not 0");

pub const HINTS: &[Hint] = &[ONE_STAT, ST_SIZE, UNITS, MISSING];

fn check(ctx: &Ctx) -> Verdict {
    if !cfg!(target_os = "linux") {
        return Err(skip("reserved_bytes reads /dev/shm, which only Linux has"));
    }
    use homework::sizing_reserved::reserved_bytes;
    let ps = shmbook::os::page_size();
    // The segment's size and how many pages get written vary from run to run.
    let seed = std::process::id() as usize;
    let size_pages = 16 + seed % 7;
    let written_pages = 2 + seed / 7 % 5;
    let name = ctx.name("rsv");
    let shm = segment(&name, size_pages * ps)?;
    let ask = |when: &str, name: &str| -> Result<u64, Failure> {
        call(&format!("reserved_bytes {when}"), || reserved_bytes(name))
    };
    // What the file system says, asked the way the exercise means; with the default
    // tmpfs (no huge pages) that is 0 bytes now and one page per page written later.
    let allocated = || -> anyhow::Result<u64> {
        use std::os::unix::fs::MetadataExt;
        Ok(std::fs::metadata(format!("/dev/shm{name}"))?.blocks() * 512)
    };
    let wrong = |got: u64, want: u64, when: String| {
        let f = fail(format!("{when}: reported {got} bytes, expected {want}"));
        if got == (size_pages * ps) as u64 {
            f.hint(ST_SIZE)
        } else if want > 0
            && (got * 512 == want || got == want / ps as u64 || got == want / 512 * ps as u64)
        {
            f.hint(UNITS)
        } else {
            f
        }
    };
    let fresh = ask("on a fresh segment", &name)?;
    let want = allocated()?;
    if fresh != want {
        return Err(wrong(
            fresh,
            want,
            format!("a fresh {size_pages}-page segment nobody wrote to"),
        ));
    }
    for page in 0..written_pages {
        let page = page * 3 % size_pages;
        // SAFETY: page < size_pages lies inside the mapping `shm`.
        unsafe { shm.as_ptr().add(page * ps).write_volatile(1) };
    }
    let written = ask(&format!("after writing {written_pages} pages"), &name)?;
    let want = allocated()?;
    if written != want {
        return Err(wrong(
            written,
            want,
            format!("after writing to {written_pages} of {size_pages} pages"),
        ));
    }
    let missing = ctx.name("rsv-none");
    match catch(|| reserved_bytes(&missing)) {
        Err(panic) => Err(fail(format!(
            "reserved_bytes of a segment that does not exist panicked: {panic}"
        ))
        .hint(MISSING)),
        Ok(Ok(n)) => Err(fail(format!(
            "reserved_bytes of a segment that does not exist returned {n} instead of an error"
        ))
        .hint(MISSING)),
        Ok(Err(_)) => Ok(()),
    }
}
