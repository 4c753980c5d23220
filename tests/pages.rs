//! `cargo test --test pages`: every chapter reads the same way (see CONTRIBUTING.md).
//!
//! For every chapter listed in `src/SUMMARY.md` (the numbered entries, top level):
//! - it opens with `# Title`, then says what the reader **will be able to** do, as a
//!   list, and links to the Python → Rust map (`python-to-rust.md`) before its first
//!   section;
//! - its last three sections are `## Platforms` (naming Linux, macOS and Windows),
//!   `## Summary` and `## Homework`, the last including `exercises/CHAPTER.md`;
//! - every listing (a fence that includes a file) has a caption right above it,
//!   `*Listing C.N — ...*`, numbered in order within chapter C, naming the included file
//!   in backticks and, for a runnable file, the command that runs it
//!   (`` `cargo run -q --example NAME ...` `` for a file of example NAME; for a Python
//!   file `` `python3 PATH ...` `` or the example that starts it). A listing right
//!   below another one shares its caption, which then names both files.
//!
//! Across the book: every listing — a fence of `{{#include FILE:ANCHOR}}` lines, counted
//! as mdBook shows it (the anchor's region without `ANCHOR` lines; a whole file when no
//! anchor is named) — is at most 40 lines, and the median listing, and the median single
//! include, at most 25 (`scripts/listings` prints every one).
//!
//! For every page: warnings and notes use mdBook's admonitions (`> [!WARNING]`,
//! `> [!NOTE]`, `> [!TIP]`, `> [!IMPORTANT]`, `> [!CAUTION]`), not bold words; and no
//! `⟨TBD⟩` is left where a measured figure from a recorded run belongs.
//!
//! A chapter that still holds only the frame's placeholder sentence ("This chapter is
//! being written.") and no section but Homework is reported as ignored, never as
//! passed; the placeholder sentence in a page with real sections is a failure.
//!
//! `cargo test --test pages -- sizing` checks only the pages whose path contains `sizing`.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use regex::Regex;

const PLACEHOLDER: &str = "is being written.";
const ADMONITIONS: &[&str] = &["NOTE", "TIP", "IMPORTANT", "WARNING", "CAUTION"];

fn main() -> ExitCode {
    // cargo sets it when it runs the test too: the checkout being tested, even when
    // the binary was built for another one
    let root = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into()),
    );
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let src = root.join("src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("read src/SUMMARY.md");

    let (chapters, others) = pages_of(&summary);
    let mut results: Vec<(String, Verdict)> = Vec::new();
    if !others
        .iter()
        .chain(&chapters)
        .any(|p| p == "python-to-rust.md")
    {
        results.push((
            "src/SUMMARY.md".into(),
            Verdict::Failed(vec!["lists no python-to-rust.md".into()]),
        ));
    }
    for (number, page) in chapters.iter().enumerate() {
        let verdict = match std::fs::read_to_string(src.join(page)) {
            Ok(text) => check_chapter(&root, page, number + 1, &text),
            Err(e) => Verdict::Failed(vec![format!("cannot read it: {e}")]),
        };
        results.push((format!("src/{page}"), verdict));
    }
    for page in &others {
        let text = std::fs::read_to_string(src.join(page)).unwrap_or_default();
        let mut problems = check_admonitions(&text);
        problems.extend(check_unrecorded(&text));
        let verdict = if problems.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed(problems)
        };
        results.push((format!("src/{page}"), verdict));
    }
    results.push(("listing lengths".into(), check_listing_lengths(&root)));
    results.retain(|(page, _)| filter.as_deref().is_none_or(|f| page.contains(f)));

    println!("\nrunning {} page checks", results.len());
    let (mut passed, mut failed, mut ignored) = (0, 0, 0);
    for (page, verdict) in &results {
        match verdict {
            Verdict::Passed => {
                passed += 1;
                println!("test {page} ... ok");
            }
            Verdict::Placeholder => {
                ignored += 1;
                println!("test {page} ... ignored, still the frame's placeholder");
            }
            Verdict::Failed(_) => {
                failed += 1;
                println!("test {page} ... FAILED");
            }
        }
    }
    for (page, verdict) in &results {
        if let Verdict::Failed(problems) = verdict {
            println!("\n---- {page}");
            for p in problems {
                println!("  {p}");
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; {ignored} ignored; 0 measured; 0 filtered out\n",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

enum Verdict {
    Passed,
    Placeholder,
    Failed(Vec<String>),
}

/// The pages SUMMARY.md lists: (numbered top-level chapters, every other page).
fn pages_of(summary: &str) -> (Vec<String>, Vec<String>) {
    let entry = Regex::new(r"^(\s*)(?:[-*] )?\[[^\]]*\]\(([^)]+\.md)\)").unwrap();
    let (mut chapters, mut others) = (Vec::new(), Vec::new());
    for line in summary.lines() {
        if let Some(c) = entry.captures(line) {
            let numbered = line.trim_start().starts_with(['-', '*']);
            if numbered && c[1].is_empty() {
                chapters.push(c[2].to_string());
            } else {
                others.push(c[2].to_string());
            }
        }
    }
    (chapters, others)
}

/// A line of a page outside any fenced block, or the opening line of a fence.
struct Line<'a> {
    number: usize,
    text: &'a str,
    /// For a fence's opening line: the lines inside the fence.
    fence_body: Option<Vec<&'a str>>,
}

/// The page's lines with fenced blocks folded into their opening line, so that a `#`
/// inside a code block is never taken for a heading.
fn lines_of(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let t = line.trim_start();
        let fence: String = t.chars().take_while(|&c| c == '`' || c == '~').collect();
        let fence_char = fence.chars().next().unwrap_or(' ');
        if fence.len() >= 3 && fence.chars().all(|c| c == fence_char) {
            let mut body = Vec::new();
            for (_, inner) in lines.by_ref() {
                let closing = inner.trim();
                if closing.starts_with(&fence) && closing.chars().all(|c| c == fence_char) {
                    break;
                }
                body.push(inner);
            }
            out.push(Line {
                number: i + 1,
                text: line,
                fence_body: Some(body),
            });
        } else {
            out.push(Line {
                number: i + 1,
                text: line,
                fence_body: None,
            });
        }
    }
    out
}

fn heading(line: &Line, level: usize) -> Option<String> {
    if line.fence_body.is_some() {
        return None;
    }
    let hashes = "#".repeat(level);
    let rest = line.text.strip_prefix(&hashes)?.strip_prefix(' ')?;
    Some(rest.trim().to_string())
}

fn check_chapter(root: &Path, page: &str, number: usize, text: &str) -> Verdict {
    let lines = lines_of(text);
    let mut problems = Vec::new();
    let sections: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| heading(l, 2).map(|h| (i, h)))
        .collect();

    if text.contains(PLACEHOLDER) {
        if sections.iter().all(|(_, h)| h == "Homework") {
            return Verdict::Placeholder;
        }
        problems.push(format!(
            "still holds the frame's placeholder sentence (\"...{PLACEHOLDER}\")"
        ));
    }

    // The title, then the opening: what the reader will be able to do, and the map.
    match lines.iter().find(|l| !l.text.trim().is_empty()) {
        Some(l) if heading(l, 1).is_some() => {}
        _ => problems.push("does not start with `# Title`".into()),
    }
    let first_section = sections.first().map_or(lines.len(), |(i, _)| *i);
    let opening = &lines[..first_section];
    let opening_text: String = opening
        .iter()
        .map(|l| l.text)
        .collect::<Vec<_>>()
        .join("\n");
    let list_item = Regex::new(r"^\s*([-*]|[0-9]+\.) ").unwrap();
    if !opening_text.to_lowercase().contains("will be able to") {
        problems.push(
            "the opening (before the first `##`) does not say what the reader will be able to do (\"... will be able to ...\")".into(),
        );
    } else if !opening
        .iter()
        .any(|l| l.fence_body.is_none() && list_item.is_match(l.text))
    {
        problems
            .push("the opening says what the reader will be able to do, but not as a list".into());
    }
    if !Regex::new(r"\]\((\./)?python-to-rust\.md(#[^)]*)?\)")
        .unwrap()
        .is_match(&opening_text)
    {
        problems
            .push("the opening has no link to the Python → Rust map (`python-to-rust.md`)".into());
    }

    // The closing sections, in order.
    let names: Vec<&str> = sections.iter().map(|(_, h)| h.as_str()).collect();
    let closing = ["Platforms", "Summary", "Homework"];
    if names.len() < 3 || names[names.len() - 3..] != closing {
        problems.push(format!(
            "its last sections must be `## Platforms`, `## Summary`, `## Homework`; they are {:?}",
            &names[names.len().saturating_sub(3)..]
        ));
    }
    let section_text = |name: &str| -> Option<String> {
        let at = sections.iter().position(|(_, h)| h == name)?;
        let end = sections.get(at + 1).map_or(lines.len(), |(i, _)| *i);
        Some(
            lines[sections[at].0..end]
                .iter()
                .map(|l| l.text)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    if let Some(platforms) = section_text("Platforms") {
        for system in ["Linux", "macOS", "Windows"] {
            if !platforms.contains(system) {
                problems.push(format!("`## Platforms` does not mention {system}"));
            }
        }
    }
    if let Some(homework) = section_text("Homework") {
        let stem = page.trim_end_matches(".md");
        let include = format!("{{{{#include exercises/{stem}.md}}}}");
        if !homework.contains(&include) {
            problems.push(format!(
                "`## Homework` does not include its exercises: `{include}`"
            ));
        } else if !root
            .join("src/exercises")
            .join(format!("{stem}.md"))
            .is_file()
        {
            problems.push(format!("src/exercises/{stem}.md does not exist"));
        }
    }

    problems.extend(check_listings(page, number, &lines));
    problems.extend(check_admonitions(text));
    problems.extend(check_unrecorded(text));

    if problems.is_empty() {
        Verdict::Passed
    } else {
        Verdict::Failed(problems)
    }
}

/// Every fence that includes a file has a numbered caption naming the file and, for a
/// runnable one, the command that runs it.
fn check_listings(page: &str, chapter: usize, lines: &[Line]) -> Vec<String> {
    let include = Regex::new(r"\{\{#(?:include|rustdoc_include) ([^:}\s]+)").unwrap();
    let numbered = Regex::new(r"^\*Listing ([0-9]+)\.([0-9]+)\b").unwrap();
    let spans = Regex::new(r"`([^`]+)`").unwrap();
    let mut problems = Vec::new();
    let mut next = 1;
    let mut previous: Option<(usize, String)> = None; // the last listing's line and caption
    for (at, line) in lines.iter().enumerate() {
        let Some(body) = &line.fence_body else {
            continue;
        };
        let mut files: Vec<String> = Vec::new();
        for c in body.iter().filter_map(|l| include.captures(l)) {
            let file = from_root(page, &c[1]);
            if !files.contains(&file) {
                files.push(file); // one file, several anchors: named once
            }
        }
        if files.is_empty() {
            continue;
        }
        let here = format!("line {}: the listing of {}", line.number, files.join(", "));
        // The caption: the paragraph right above the fence; a listing right below
        // another one (a Python script and its Rust parent, say) shares its caption.
        let mut above = lines[..at]
            .iter()
            .enumerate()
            .rev()
            .skip_while(|(_, l)| l.text.trim().is_empty())
            .peekable();
        let caption = match (above.peek(), &previous) {
            (Some((i, _)), Some((j, caption))) if i == j => caption.clone(),
            _ => {
                let mut paragraph: Vec<&str> = Vec::new();
                for (_, l) in above {
                    if l.text.trim().is_empty() || l.fence_body.is_some() {
                        break;
                    }
                    paragraph.insert(0, l.text.trim());
                }
                let caption = paragraph.join(" ");
                if !(caption.starts_with("*Listing ") && caption.ends_with('*')) {
                    let runs = runner_of(&files[0])
                        .map(|r| format!("; run it with `{} ...`", r.command()))
                        .unwrap_or_default();
                    problems.push(format!(
                        "{here} has no caption right above it, such as `*Listing {chapter}.{next} — `{}` ...{runs}*`",
                        files[0]
                    ));
                    previous = None;
                    continue; // numbered as if absent, so one missing caption is one failure
                }
                match numbered.captures(&caption) {
                    Some(c) if c[1] == chapter.to_string() && c[2] == next.to_string() => {}
                    _ => problems.push(format!(
                        "{here}: its caption should be numbered `Listing {chapter}.{next}` (chapter {chapter}, listing {next})"
                    )),
                }
                next += 1;
                caption
            }
        };
        previous = Some((at, caption.clone()));
        let named: Vec<&str> = spans
            .captures_iter(&caption)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        for file in &files {
            if !named.contains(&file.as_str()) {
                problems.push(format!("{here}: its caption does not name `{file}`"));
            }
            if let Some(runner) = runner_of(file) {
                if !named.iter().any(|span| runner.is_run_by(span)) {
                    let command = runner.command();
                    let or = match runner {
                        Runner::Example(_) => format!("or \"used by `{command} ...`\" for a part"),
                        Runner::Python(_) => {
                            "or the `cargo run -q --example ...` that starts it".into()
                        }
                    };
                    problems.push(format!(
                        "{here}: its caption does not name the command that runs it (\"run it with `{command} ...`\", {or})"
                    ));
                }
            }
        }
    }
    problems
}

/// How a listed file is run.
enum Runner {
    /// `examples/NAME.rs` or any file of `examples/NAME/`: `cargo run -q --example NAME`.
    Example(String),
    /// A Python file: `python3 FILE`, or an example that starts it as a helper.
    Python(String),
}

impl Runner {
    fn command(&self) -> String {
        match self {
            Runner::Example(name) => format!("cargo run -q --example {name}"),
            Runner::Python(file) => format!("python3 {file}"),
        }
    }

    /// Whether a caption's `code span` is a command that runs the file.
    fn is_run_by(&self, span: &str) -> bool {
        let runs = |command: &str| {
            span.strip_prefix(command)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        };
        match self {
            Runner::Example(_) => runs(&self.command()),
            Runner::Python(_) => {
                runs(&self.command()) || span.starts_with("cargo run -q --example ")
            }
        }
    }
}

/// The runner of a listed file, if it is runnable: Rust files under `examples/` and
/// Python files.
fn runner_of(file: &str) -> Option<Runner> {
    if file.ends_with(".py") {
        return Some(Runner::Python(file.to_string()));
    }
    let name = file.strip_prefix("examples/")?.strip_suffix(".rs")?;
    let example = name.split('/').next().unwrap_or(name);
    Some(Runner::Example(example.to_string()))
}

/// `../examples/x.rs` as written in `src/PAGE` -> `examples/x.rs`.
fn from_root(page: &str, included: &str) -> String {
    let path = Path::new("src").join(page).parent().unwrap().join(included);
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

/// A number the prose needs but no recorded run has given yet is written `⟨TBD⟩` (or
/// `⟨TBD: what⟩`); it must be replaced by the recorded figure before the page is done.
fn check_unrecorded(text: &str) -> Vec<String> {
    (text.lines().enumerate())
        .filter(|(_, line)| line.contains("⟨TBD"))
        .map(|(i, _)| {
            format!(
                "line {}: a placeholder ⟨TBD⟩ where a recorded figure belongs",
                i + 1
            )
        })
        .collect()
}

/// Warnings and notes are mdBook admonitions, not bold words or other kinds.
fn check_admonitions(text: &str) -> Vec<String> {
    let kind = Regex::new(r"^>\s*\[!([A-Za-z]+)\]").unwrap();
    // A bold "**Warning**" or a "Note:" opening a line or a quote is a home-made
    // admonition; "Note that ..." inside prose is not.
    let bold =
        Regex::new(r"(?i)^(?:>\s*)?(?:\*\*|__)(warning|note|caution|tip|important|danger)\b")
            .unwrap();
    let colon =
        Regex::new(r"(?i)^(?:>\s*)?(warning|note|caution|tip|important|danger)\s*:").unwrap();
    let mut problems = Vec::new();
    for line in lines_of(text) {
        if line.fence_body.is_some() {
            continue;
        }
        let t = line.text.trim_start();
        if let Some(c) = kind.captures(t) {
            if !ADMONITIONS.contains(&&c[1]) {
                problems.push(format!(
                    "line {}: `[!{}]` is no admonition mdBook knows (use one of {ADMONITIONS:?})",
                    line.number, &c[1]
                ));
            }
        } else if let Some(c) = bold.captures(t).or_else(|| colon.captures(t)) {
            let mut kind = c[1].to_uppercase();
            if kind == "DANGER" {
                kind = "CAUTION".into();
            }
            problems.push(format!(
                "line {}: a home-made {}; use mdBook's admonition `> [!{kind}]`",
                line.number,
                c[1].to_lowercase()
            ));
        }
    }
    problems
}

/// The longest listing the book may show, and the most its median may be.
const LISTING_MAX: usize = 40;
const LISTING_MEDIAN_MAX: usize = 25;

/// The lines `{{#include FILE:ANCHOR}}` shows: the anchor's region without any
/// `ANCHOR:`/`ANCHOR_END:` lines, or the whole file without them.
fn included_lines(file: &Path, anchor: Option<&str>) -> Result<usize, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let marker = Regex::new(r"^\s*(//|#)\s*ANCHOR(_END)?:\s*([A-Za-z0-9_-]+)").unwrap();
    let Some(anchor) = anchor else {
        return Ok(text.lines().filter(|l| !marker.is_match(l)).count());
    };
    let (mut n, mut inside, mut seen) = (0, false, false);
    for line in text.lines() {
        match marker.captures(line) {
            Some(c) if &c[3] == anchor => {
                inside = c.get(2).is_none();
                seen = true;
            }
            Some(_) => {}
            None if inside => n += 1,
            None => {}
        }
    }
    if seen {
        Ok(n)
    } else {
        Err(format!("{} has no anchor {anchor}", file.display()))
    }
}

fn median(v: &mut [usize]) -> f64 {
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0,
    }
}

/// Every `.md` file under `src/`, as paths relative to it (pages and the files they
/// include, such as `exercises/segments.md`).
fn markdown_files(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            markdown_files(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
}

fn check_listing_lengths(root: &Path) -> Verdict {
    let include = Regex::new(r"\{\{#include\s+([^:}\s]+)(?::([A-Za-z0-9_-]+))?\s*\}\}").unwrap();
    let (mut listings, mut includes, mut problems) = (Vec::new(), Vec::new(), Vec::new());
    let mut pages = Vec::new();
    markdown_files(&root.join("src"), &root.join("src"), &mut pages);
    pages.sort();
    for page in &pages {
        let path = root.join("src").join(page);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in lines_of(&text) {
            let Some(body) = &line.fence_body else {
                continue;
            };
            let mut total = 0;
            let mut any = false;
            for l in body {
                if l.trim().is_empty() {
                    total += 1;
                }
                for m in include.captures_iter(l) {
                    let rel = from_root(page, &m[1]);
                    if !["examples/", "lib/", "homework/", "solutions/", "grade/"]
                        .iter()
                        .any(|d| rel.starts_with(d))
                    {
                        continue;
                    }
                    any = true;
                    match included_lines(&root.join(&rel), m.get(2).map(|a| a.as_str())) {
                        Ok(n) => {
                            includes.push(n);
                            total += n;
                        }
                        Err(e) => problems.push(format!("src/{page}:{}: {e}", line.number)),
                    }
                }
            }
            if any {
                if total > LISTING_MAX {
                    problems.push(format!(
                        "src/{page}:{}: a listing of {total} lines (at most {LISTING_MAX})",
                        line.number
                    ));
                }
                listings.push(total);
            }
        }
    }
    let (count, longest) = (listings.len(), listings.iter().max().copied().unwrap_or(0));
    let (per_listing, per_include) = (median(&mut listings), median(&mut includes));
    println!(
        "listings: {count}; median {per_listing} lines (per include {per_include}); longest {longest}"
    );
    for (what, m) in [("listing", per_listing), ("include", per_include)] {
        if m > LISTING_MEDIAN_MAX as f64 {
            problems.push(format!(
                "the median {what} is {m} lines (at most {LISTING_MEDIAN_MAX})"
            ));
        }
    }
    if problems.is_empty() {
        Verdict::Passed
    } else {
        Verdict::Failed(problems)
    }
}
