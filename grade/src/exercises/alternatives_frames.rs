//! 5.1 `alternatives_frames`: send arrays through a pipe, framed.

use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use super::Exercise;
use crate::kit::{catch, fail, Ctx, Failure, Hint, Role, Verdict};

pub const EXERCISE: Exercise = Exercise {
    name: "alternatives_frames",
    number: "5.1",
    chapter: "alternatives",
    check,
    roles: &[WRITE, SEND, CUT, HUGE],
    hints: HINTS,
    linux_only: false,
};

const CLEAN_END: Hint =
    Hint("read_frame must return None when read() returns 0 at the start of a frame");
const WRITE_ALL: Hint = Hint("first the length as u64::to_le_bytes, then each value the same way; use write_all (a write may take fewer bytes than it is offered)");
const READ_EXACT: Hint = Hint(
    "one read() returns what is there, maybe 5 bytes: use read_exact for each part of a frame",
);
const CUT_FRAME: Hint = Hint("only an end before the first byte of a frame is a clean end; read_exact reports the others as UnexpectedEof");
const UNTRUSTED: Hint = Hint("the length comes from the other side: do not reserve room for it before the values have arrived (or cap the reservation), and never multiply it unchecked");

pub const HINTS: &[Hint] = &[CLEAN_END, WRITE_ALL, READ_EXACT, CUT_FRAME, UNTRUSTED];

/// The frames both directions send: empty, small, one larger than a pipe's buffer, and
/// values that vary from run to run.
fn frames(seed: u64) -> Vec<Vec<u64>> {
    vec![
        vec![],
        vec![seed],
        vec![1, 2, 3],
        (0..20_000)
            .map(|i| (i ^ seed).wrapping_mul(0x9E37_79B9))
            .collect(),
        vec![u64::MAX],
    ]
}

fn bytes_of(frames: &[Vec<u64>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for f in frames {
        bytes.extend_from_slice(&(f.len() as u64).to_le_bytes());
        for v in f {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    bytes
}

/// Where `got` first differs from the encoding of `want` (the checker compares bytes:
/// it has no reader of its own, so the hand-out ships nothing close to `read_frame`).
fn first_difference(got: &[u8], want: &[Vec<u64>]) -> Option<String> {
    let expected = bytes_of(want);
    let at = got.iter().zip(&expected).position(|(a, b)| a != b);
    let at = match at {
        Some(at) => at,
        None if got.len() == expected.len() => return None,
        None => got.len().min(expected.len()),
    };
    // Which frame, and which part of it, byte `at` belongs to in the expected stream.
    let (mut start, mut place) = (0, String::from("after the last frame"));
    for (k, f) in want.iter().enumerate() {
        let end = start + 8 + 8 * f.len();
        if at < end {
            place = if at < start + 8 {
                format!("in the length of frame {k} (of {} values)", f.len())
            } else {
                format!("in value {} of frame {k}", (at - start - 8) / 8)
            };
            break;
        }
        start = end;
    }
    Some(format!(
        "{} bytes written, {} expected; the first difference is at byte {at}, {place}",
        got.len(),
        expected.len()
    ))
}

fn lengths(f: &[Vec<u64>]) -> Vec<usize> {
    f.iter().map(Vec::len).collect()
}

/// A writer that takes at most 5 bytes per call, as a full pipe or socket may.
struct Trickle(Vec<u8>);

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(5);
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that gives at most 5 bytes per call, as a pipe may. A reader that keeps
/// reading after the end (ignoring the 0 that says so) gets an error after 1000 calls.
struct Dribble<'a>(&'a [u8], u32);

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            self.1 += 1;
            if self.1 > 1000 {
                return Err(io::Error::other(
                    "read() called 1000 times after the end of the stream",
                ));
            }
        }
        let n = buf.len().min(5).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Reads frames with the student's read_frame until None or an error.
fn read_all(input: &mut impl Read) -> Result<Vec<Vec<u64>>, String> {
    let mut got = Vec::new();
    loop {
        match catch(|| homework::alternatives_frames::read_frame(input)) {
            Err(panic) => return Err(format!("read_frame panicked: {panic}")),
            Ok(Err(e)) => return Err(format!("read_frame failed: {e} ({:?})", e.kind())),
            Ok(Ok(None)) => return Ok(got),
            Ok(Ok(Some(f))) => got.push(f),
            // A reader that never ends would loop here: every frame costs input.
        }
        if got.len() > 100 {
            return Err(format!(
                "read_frame returned {} frames from a stream of 5",
                got.len()
            ));
        }
    }
}

fn check(_ctx: &Ctx) -> Verdict {
    let seed = u64::from(std::process::id());
    let want = frames(seed);
    let want_lengths = lengths(&want);
    // 1. write_frame into a writer that takes 5 bytes per call.
    let mut out = Trickle(Vec::new());
    for f in &want {
        let r = catch(|| homework::alternatives_frames::write_frame(&mut out, f));
        match r {
            Err(panic) => return Err(fail(format!("write_frame panicked: {panic}"))),
            Ok(Err(e)) => return Err(fail(format!("write_frame failed: {e}"))),
            Ok(Ok(())) => {}
        }
    }
    let wrote = |bytes: &[u8], how: &str| -> Verdict {
        match first_difference(bytes, &want) {
            None => Ok(()),
            Some(why) => Err(fail(format!(
                "write_frame's bytes {how}, for frames of lengths {want_lengths:?}: {why}"
            ))
            .hint(WRITE_ALL)),
        }
    };
    wrote(&out.0, "(into a writer that takes 5 bytes per call)")?;
    // 2. write_frame in another process, through a pipe.
    let exe = std::env::current_exe().context("finding the grader")?;
    let piped = Command::new(&exe)
        .args([WRITE.name, &seed.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit()) // a panic's message reaches the grader
        .output()
        .context("running the writer")?;
    if !piped.status.success() {
        return Err(fail(format!(
            "the process running write_frame failed ({})",
            shmbook::helper::describe(piped.status)
        )));
    }
    wrote(&piped.stdout, "(through a pipe)")?;
    // 3. read_frame from a reader that gives 5 bytes per call.
    let bytes = bytes_of(&want);
    match read_all(&mut Dribble(&bytes, 0)) {
        Ok(f) if f == want => {}
        Ok(f) => {
            return Err(fail(format!(
                "read_frame read frames of lengths {:?} from a reader giving 5 bytes per call; expected {want_lengths:?} with the values sent",
                lengths(&f)
            ))
            .hint(READ_EXACT))
        }
        Err(why) => {
            return Err(fail(format!("reading well-formed frames given 5 bytes per call: {why}")).hint(READ_EXACT))
        }
    }
    // 4. read_frame from another process, through a pipe.
    match read_piped(&exe, &[SEND.name, &seed.to_string()])? {
        Ok(f) if f == want => {}
        Ok(f) => {
            return Err(fail(format!(
                "read_frame read frames of lengths {:?} from a pipe; expected {want_lengths:?}",
                lengths(&f)
            ))
            .hint(READ_EXACT))
        }
        Err(why) => {
            return Err(
                fail(format!("reading well-formed frames from a pipe: {why}")).hint(READ_EXACT),
            )
        }
    }
    // 5. Ends: clean, inside the length, inside the values, after a length that wraps.
    let nothing: &[u8] = &[];
    match read_all(&mut Dribble(nothing, 0)) {
        Ok(f) if f.is_empty() => {}
        Ok(f) => {
            return Err(
                fail(format!("an empty stream read as {} frame(s)", f.len())).hint(CLEAN_END),
            )
        }
        Err(why) => {
            return Err(fail(format!("an empty stream: {why}; expected None")).hint(CLEAN_END))
        }
    }
    let mut wraps = ((1u64 << 61) + 1).to_le_bytes().to_vec();
    wraps.extend_from_slice(&7u64.to_le_bytes());
    let cut_values = &bytes_of(&[vec![7, 8, 9]])[..8 + 8 + 3];
    let cases: [(&str, &[u8]); 3] = [
        (
            "a stream cut inside a frame's length (3 of its 8 bytes)",
            &[3, 0, 0],
        ),
        ("a stream cut inside a frame's values", cut_values),
        (
            "a frame of length 2^61 + 1 (× 8 bytes wraps to 8) followed by one value",
            &wraps,
        ),
    ];
    for (what, bytes) in cases {
        cut_right(what, read_all(&mut Dribble(bytes, 0)))?;
    }
    cut_right(
        "a pipe closed inside a frame",
        read_piped(&exe, &[CUT.name])?,
    )?;
    // 6. A length of 2^30 values (8 GiB) before the stream ends: with the address space
    // limited to 1 GiB, a reader that reserves room for it first cannot.
    match HUGE.run(&[])? {
        Ok(_) => Ok(()),
        Err(why) if why.contains("UnexpectedEof") => Ok(()),
        Err(why) => Err(fail(format!(
            "a frame whose length says 2^30 values (8 GiB) but whose stream ends after one, read with 1 GiB of address space: {why}"
        ))
        .hint(UNTRUSTED)),
    }
}

/// A stream that ends inside a frame must give UnexpectedEof, after the frames before.
fn cut_right(what: &str, r: Result<Vec<Vec<u64>>, String>) -> Result<(), Failure> {
    match r {
        Err(why) if why.contains("UnexpectedEof") => Ok(()),
        Err(why) if why.contains("panicked") && what.contains("wraps") => {
            Err(fail(format!("{what}: {why}")).hint(UNTRUSTED))
        }
        Err(why) => Err(fail(format!(
            "{what}: {why}; expected an UnexpectedEof error"
        ))),
        Ok(f) => Err(fail(format!(
            "{what} read as {} complete frame(s) of lengths {:?}; expected an UnexpectedEof error",
            f.len(),
            lengths(&f)
        ))
        .hint(CUT_FRAME)),
    }
}

/// Runs `role`, which writes frames to its standard output, and reads them with the
/// student's read_frame.
fn read_piped(
    exe: &std::path::Path,
    role: &[&str],
) -> anyhow::Result<Result<Vec<Vec<u64>>, String>> {
    let mut child = Command::new(exe)
        .args(role)
        .stdout(Stdio::piped())
        .spawn()
        .context("running the sender")?;
    let mut pipe = child.stdout.take().context("the sender's pipe")?;
    let result = read_all(&mut pipe);
    drop(pipe);
    let _ = child.kill();
    let _ = child.wait();
    Ok(result)
}

/// Worker: `_frames_write SEED` — the student's write_frame, to standard output.
const WRITE: Role = Role {
    name: "_frames_write",
    run: |args| {
        let [seed] = args else {
            anyhow::bail!("needs SEED")
        };
        let mut out = io::stdout().lock();
        for f in frames(seed.parse()?) {
            homework::alternatives_frames::write_frame(&mut out, &f)?;
        }
        out.flush()?;
        std::process::exit(0); // nothing else may reach the pipe
    },
};

/// Worker: `_frames_send SEED` — well-formed frames, 5 bytes per write, with short
/// pauses, so that a reader sees them in pieces.
const SEND: Role = Role {
    name: "_frames_send",
    run: |args| {
        let [seed] = args else {
            anyhow::bail!("needs SEED")
        };
        send(&bytes_of(&frames(seed.parse()?)))
    },
};

/// Worker: `_frames_cut` — a frame cut inside its values.
const CUT: Role = Role {
    name: "_frames_cut",
    run: |_| send(&bytes_of(&[vec![7, 8, 9]])[..8 + 8 + 3]),
};

fn send(bytes: &[u8]) -> anyhow::Result<String> {
    let mut out = io::stdout().lock();
    for (i, chunk) in bytes.chunks(5).enumerate() {
        out.write_all(chunk)?;
        out.flush()?;
        if i % 4000 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    std::process::exit(0);
}

/// Worker: `_frames_huge` — read_frame, with 1 GiB of address space, on a frame that
/// says 2^30 values and ends after one.
const HUGE: Role = Role {
    name: "_frames_huge",
    run: |_| {
        use nix::sys::resource::{setrlimit, Resource};
        let mut bytes = (1u64 << 30).to_le_bytes().to_vec();
        bytes.extend_from_slice(&5u64.to_le_bytes());
        setrlimit(Resource::RLIMIT_AS, 1 << 30, 1 << 30).context("limiting the address space")?;
        match homework::alternatives_frames::read_frame(&mut &bytes[..]) {
            Ok(f) => Ok(format!("{:?}", f.map(|v| v.len()))),
            Err(e) => anyhow::bail!("read_frame failed: {e} ({:?})", e.kind()),
        }
    },
};
