//! # `shmbook`: the small library behind the book's examples
//!
//! Every example in the book is one short file under `examples/`. What several of
//! them need lives here, once, so that each example shows only its own idea:
//!
//! | module | what it gives an example |
//! | --- | --- |
//! | [`cli`] | [`cli::run`]: an example's clap command line, exit status 2 on bad input, `error:` and 1 on failure; value parsers with declared ranges |
//! | [`helper`] | start a helper process by running the current executable again, wait for it with a time limit |
//! | [`names`] | unique segment names, and checks for names the reader types |
//! | [`cleanup`] | what an example creates is registered as it is created and removed on every way out: drop, Ctrl-C, `SIGTERM`, `SIGHUP` |
//! | [`yes_no`] | a `bool` printed as "yes" or "no", as the transcripts show it |
//! | [`wait`] | bounded waiting for another process |
//! | [`locks`] | bounded waits on `raw_sync` locks, around its timeout defect |
//! | [`semaphores`] | the Semaphores chapter's segment layout: a checked header and the lock it holds; `demo`, the segment of the `semaphores` example |
//! | [`sizing`] | the Sizing chapter's segments, `/dev/shm` space, and its private tmpfs |
//! | [`semaphore`] | a process-shared POSIX semaphore inside a segment |
//! | [`sync`] | `raw_sync`'s boxed errors turned into `anyhow` errors with context |
//! | [`alternatives`] | the Alternatives chapter's ways, the header of a mapping its two processes share, bounded spinning, temporary files |
//! | [`arrays`] | the Arrays chapter's checked open of a segment, a plain segment, the test values `sin(i)` |
//! | [`measure`] | the Alternatives chapter's test array, checksum, page-fault count and units |
//! | [`os`] | small, explained wrappers over the operating system calls the examples inspect |
//! | [`process`] | the book's one process runner: helpers recorded for the cleanup, and commands run to their end with a time limit (tests, grader) |
//! | [`python`] | start a Python script as a helper, talk to it line by line, wait for it with a time limit |
//! | [`record`] | the Alternatives chapter's recorded results: the JSON document of a run (machine, tools, every round) |
//!
//! Nothing here hides shared memory itself: the examples call `shared_memory` and
//! `raw_sync` directly, because that is what the book teaches.

pub mod alternatives;
pub mod arrays;
pub mod cleanup;
pub mod cli;
pub mod helper;
pub mod locks;
pub mod measure;
pub mod names;
pub mod os;
pub mod process;
pub mod python;
pub mod record;
pub mod semaphore;
pub mod semaphores;
pub mod sizing;
pub mod sync;
pub mod wait;

use std::time::Duration;

/// How long any example waits for another process before it gives up.
///
/// Every wait on another process in the book is bounded: a helper that hangs makes
/// its parent fail with a clear error after this long, instead of hanging forever.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(20);

/// "yes" or "no", as the transcripts print a bool.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Why `Shmem` cannot be moved into a thread. `cargo test` compiles this snippet as a
/// doctest and passes only if the compiler rejects it with E0277; the book includes the
/// same file.
///
/// ```compile_fail,E0277
#[doc = include_str!("snippets/not_send.rs")]
/// ```
pub struct ShmemIsNotSend;
