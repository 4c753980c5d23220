//! `cargo test --test book`: runs every transcript in the book and compares its output.
//!
//! This is the book's promise made executable. For every `console` block in `src/`:
//! - each `$` command is run for real (a command the suite cannot run is a failure,
//!   never a silent pass), with a time limit, in its own process group;
//! - its output is compared with the block, line by line (see `support/transcript.rs`
//!   for the marks that stand for varying parts);
//! - every character of the compared lines is changed once, and each changed transcript
//!   must fail to match: no line of the book passes vacuously.
//!
//! Then: every example under `examples/` must be run by at least one transcript, and
//! `/dev/shm` must hold no new entry (a leaked segment or named semaphore).
//!
//! `cargo test --test book -- segments` runs only the pages whose path contains
//! `segments`.
//!
//! Why a small harness of our own rather than `trycmd`: trycmd counts a `$` line whose
//! first word is not a registered binary (such as `cargo`) as passed without running
//! it, and reads a fence without a language as a test. The book's commands are the ones
//! a reader pastes (`cargo run -q --example …`), so they would all have passed unrun.
//! This harness knows exactly two command forms and fails on anything else; it adds
//! named marks a reader can understand (`[NAME]`, `[TIME]`), the leak check, the
//! coverage check and the mutation check, in about 400 lines with `regex` as its only
//! dependency.

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;
#[path = "support/transcript.rs"]
#[allow(dead_code)]
mod transcript;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use transcript::{Block, Step};

struct Outcome {
    step: Step,
    failure: Option<String>,
}

fn main() -> ExitCode {
    let start = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));

    let mut pages = Vec::new();
    collect_pages(&root.join("src"), &mut pages);
    pages.sort();

    let mut blocks: Vec<Block> = Vec::new();
    let mut problems = Vec::new();
    for page in &pages {
        let rel = page.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(page).unwrap_or_default();
        let (b, p) = transcript::parse(&rel, &text);
        problems.extend(p);
        if filter.as_deref().is_none_or(|f| rel.contains(f)) {
            blocks.extend(b);
        }
    }

    let before = runner::dev_shm_entries();
    let steps: usize = blocks.iter().map(|b| b.steps.len()).sum();
    println!(
        "\nrunning {steps} transcript commands from {} blocks",
        blocks.len()
    );

    // Pages run in parallel (two at a time), the blocks of one page in order.
    let mut by_page: Vec<Vec<Block>> = Vec::new();
    for b in blocks {
        match by_page.last_mut() {
            Some(page) if page[0].file == b.file => page.push(b),
            _ => by_page.push(vec![b]),
        }
    }
    let queue = Mutex::new(by_page);
    let outcomes = Mutex::new(Vec::<Outcome>::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(page) = queue.lock().unwrap().pop() else {
                    break;
                };
                for block in page {
                    for step in block.steps {
                        let failure = check_step(&root, &step).err();
                        let mark = if failure.is_none() { "ok  " } else { "FAIL" };
                        println!("{mark} {}:{}  $ {}", step.file, step.line, step.command);
                        outcomes.lock().unwrap().push(Outcome { step, failure });
                    }
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();

    let mut failures: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.file, p.line, p.what))
        .collect();
    for o in &outcomes {
        if let Some(f) = &o.failure {
            failures.push(format!(
                "{}:{}: $ {}\n{f}",
                o.step.file, o.step.line, o.step.command
            ));
        }
    }

    // Every example is shown running somewhere in the book.
    if filter.is_none() {
        let run: BTreeSet<String> = outcomes
            .iter()
            .filter_map(|o| runner::example_of(&o.step.command))
            .collect();
        for example in runner::all_examples(&root) {
            if !run.contains(&example) {
                failures.push(format!(
                    "examples/{example}: no transcript in src/ runs this example"
                ));
            }
        }
    }

    let leaked = runner::leaked_since(&before);
    if leaked.is_empty() {
        println!("leak check: no new entry in /dev/shm");
    } else {
        failures.push(format!(
            "/dev/shm holds new entries after the transcripts ran: {leaked:?}"
        ));
        runner::remove_our_leftovers(&leaked);
    }

    let passed = outcomes.iter().filter(|o| o.failure.is_none()).count();
    for f in &failures {
        println!("\n---- {f}");
    }
    let checks_failed = failures.len() - (outcomes.len() - passed);
    println!(
        "\ntest result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        outcomes.len() - passed + checks_failed,
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn collect_pages(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_pages(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// Runs one step and compares; Err says what differs.
fn check_step(root: &Path, step: &Step) -> Result<(), String> {
    let actual = runner::run(root, &step.command)?;
    if !transcript::matches(&step.expected, &actual) {
        return Err(format!(
            "{}\n--- expected (from the book)\n{}\n--- actual\n{}",
            transcript::first_difference(&step.expected, &actual),
            step.expected.join("\n"),
            actual.join("\n")
        ));
    }
    let (_tried, survivors) = transcript::mutation_check(&step.expected, &actual);
    if !survivors.is_empty() {
        return Err(format!(
            "these changed lines would still pass; make the transcript stricter: {survivors:?}"
        ));
    }
    Ok(())
}
