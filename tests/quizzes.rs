//! `cargo test --test quizzes`: the book's quizzes are checked like its transcripts.
//!
//! Every quiz file `src/quizzes/CHAPTER-TOPIC.toml` (mdbook-quiz's format, see
//! `/src/instructors.md` and CONTRIBUTING.md) must:
//! - be included once, by `{{#quiz quizzes/FILE}}` in `src/CHAPTER.md`;
//! - give every question an explicit `id` (`CHAPTER-…`, unique in the book: mdbook-quiz
//!   would otherwise write a random one into the file) and a `context` that explains it
//!   and links the section that teaches it (`PAGE.html#anchor`, both checked here);
//! - give every question about what a program prints or does a `[questions.verify]`
//!   table: its `commands` are run as transcripts are (`support/runner.rs`), and its
//!   `expect` line, with `{answer}` replaced by the quiz's answer, must match their
//!   output. For a multiple-choice question, every distractor put in the answer's place
//!   must not match, the answer with any one character left out must not match, and
//!   every character of the expected line is changed once and must then fail, as in
//!   `tests/book.rs`: a quiz answer that disagrees with the program, or an expected
//!   line loose enough to accept a wrong answer, fails the suite.
//!
//! Every chapter of SUMMARY.md has at least [`MIN_QUESTIONS`] questions, except those
//! in [`PENDING`]. The checker's own promises are shown on a real command
//! (`harness_checks`). `cargo test --test quizzes -- sizing` verifies only the quiz
//! files whose name contains `sizing` (the book-wide checks still run; `-- harness`:
//! only the harness checks).

#[path = "support/runner.rs"]
#[allow(dead_code)]
mod runner;
#[path = "support/transcript.rs"]
#[allow(dead_code)]
mod transcript;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use regex::Regex;
use toml::Value;

/// Chapters whose quizzes are not written yet. Remove a chapter when you add its
/// quizzes: the suite fails while a listed chapter already has enough questions.
const PENDING: &[&str] = &[];

/// The fewest questions a chapter has (all its quiz files together).
const MIN_QUESTIONS: usize = 6;

/// A prompt that mentions one of these asks about a program's behaviour: the question
/// needs a `verify` table (matched case-insensitively; a word is matched at its start).
const OUTPUT_WORDS: &[&str] = &[
    "cargo run",
    "python3 ",
    "print",
    "output",
    "return",
    "report",
    "exit status",
];

/// How many questions are verified at once (those whose commands type one segment
/// name run in order, see `runner::groups_by_typed_names`).
const WORKERS: usize = 4;

/// One question's output check.
struct Verify {
    file: String,
    id: String,
    commands: Vec<String>,
    expect: String,
    needs: Vec<String>,
    answers: Vec<String>,
    wrong: Vec<String>,
}

fn main() -> ExitCode {
    let start = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut failures = Vec::new();

    let summary = read(&root.join("src/SUMMARY.md"));
    let chapters = chapters_of(&summary);
    let quizzes = quiz_files(&root.join("src/quizzes"));
    let includes = quiz_includes(&root.join("src"));
    let mut per_chapter: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    let mut verifies = Vec::new();
    let mut anchors: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();

    for (file, text) in &quizzes {
        let Some(chapter) = chapters
            .iter()
            .filter(|c| file.starts_with(&format!("{c}-")))
            .max_by_key(|c| c.len())
        else {
            failures.push(format!(
                "src/quizzes/{file}: its name does not start with a chapter's page name and `-` ({})",
                chapters.join(", ")
            ));
            continue;
        };
        match includes.get(file).map(Vec::as_slice) {
            Some([page]) if *page == format!("{chapter}.md") => {}
            found => failures.push(format!(
                "src/quizzes/{file}: included by {found:?}; include it once, in src/{chapter}.md, \
                 with {{{{#quiz quizzes/{file}}}}}"
            )),
        }
        let doc: Value = match toml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("src/quizzes/{file}: not valid TOML: {e}"));
                continue;
            }
        };
        let questions = doc
            .get("questions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if questions.is_empty() {
            failures.push(format!("src/quizzes/{file}: no [[questions]]"));
        }
        *per_chapter.entry(chapter.clone()).or_default() += questions.len();
        for (k, q) in questions.iter().enumerate() {
            let at = format!("src/quizzes/{file}, question {}", k + 1);
            match check_question(root, chapter, file, q, &mut anchors) {
                Ok((id, verify)) => {
                    if !ids.insert(id.clone()) {
                        failures.push(format!("{at}: id {id:?} is used twice in the book"));
                    }
                    verifies.extend(verify);
                }
                Err(problems) => {
                    failures.extend(problems.into_iter().map(|p| format!("{at}: {p}")))
                }
            }
        }
    }
    for (path, pages) in &includes {
        if !quizzes.contains_key(path) {
            failures.push(format!(
                "{}: includes quizzes/{path}, which does not exist",
                pages.join(", ")
            ));
        }
    }
    for chapter in &chapters {
        let n = per_chapter.get(chapter).copied().unwrap_or(0);
        let pending = PENDING.contains(&chapter.as_str());
        if n < MIN_QUESTIONS && !pending {
            failures.push(format!(
                "src/{chapter}.md: {n} quiz questions; a chapter has at least {MIN_QUESTIONS}"
            ));
        } else if n >= MIN_QUESTIONS && pending {
            failures.push(format!(
                "{chapter} has {n} quiz questions: remove it from PENDING in tests/quizzes.rs"
            ));
        }
        println!(
            "{chapter}: {n} quiz questions{}",
            if pending { " (pending)" } else { "" }
        );
    }

    // The output questions, run for real.
    verifies.retain(|v| filter.as_deref().is_none_or(|f| v.file.contains(f)));
    let name_log = runner::start_name_log("quizzes");
    let before = runner::dev_shm_entries();
    println!(
        "\nverifying {} quiz answers against their programs",
        verifies.len()
    );
    let mut groups = runner::groups_by_typed_names(verifies, |v| {
        v.commands.iter().map(String::as_str).collect()
    });
    // The questions whose commands took longest in the book's last run go first (a
    // command the book does not run counts as short): the workers take from the end.
    let took = runner::read_step_times();
    let seconds = |command: &str| {
        took.iter()
            .filter(|(key, _)| key.split_once('\t').is_some_and(|(_, c)| c == command))
            .map(|(_, s)| *s)
            .fold(0.0, f64::max)
    };
    let cost =
        |g: &Vec<Verify>| -> f64 { g.iter().flat_map(|v| &v.commands).map(|c| seconds(c)).sum() };
    groups.reverse();
    groups.sort_by(|a, b| cost(a).total_cmp(&cost(b)));
    let queue = Mutex::new(groups);
    let results = Mutex::new(Vec::<(String, Result<bool, String>)>::new());
    // The harness checks run beside the questions.
    let harness = filter.as_deref().is_none_or(|f| f == "harness");
    let checks = std::thread::scope(|s| {
        let checks = s.spawn(|| {
            if harness {
                harness_checks(root)
            } else {
                Vec::new()
            }
        });
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let Some(group) = queue.lock().unwrap().pop() else {
                    break;
                };
                for v in group {
                    let began = Instant::now();
                    let r = verify(root, &v);
                    let mark = match &r {
                        Ok(true) => "ok  ",
                        Ok(false) => "skip",
                        Err(_) => "FAIL",
                    };
                    println!(
                        "{mark} src/quizzes/{} {}  ({:.1} s)",
                        v.file,
                        v.id,
                        began.elapsed().as_secs_f64()
                    );
                    results
                        .lock()
                        .unwrap()
                        .push((format!("src/quizzes/{} {}", v.file, v.id), r));
                }
            });
        }
        checks.join().expect("the harness checks do not panic")
    });
    let results = results.into_inner().unwrap();
    let mut passed = 0;
    for (what, ok) in checks {
        println!("{} harness: {what}", if ok { "ok  " } else { "FAIL" });
        match ok {
            true => passed += 1,
            false => failures.push(format!("harness: {what}")),
        }
    }
    let mut ignored = Vec::new();
    for (what, r) in results {
        match r {
            Ok(true) => passed += 1,
            Ok(false) => ignored.push(what),
            Err(e) => failures.push(format!("{what}:\n{e}")),
        }
    }
    let leaked = runner::suite_leftovers(&before, &name_log);
    let _ = std::fs::remove_file(&name_log);
    if !leaked.is_empty() {
        failures.push(format!(
            "the quizzes' commands left these in /dev/shm (removed now): {leaked:?}"
        ));
        runner::remove_leftovers(&leaked);
    }
    if !ignored.is_empty() {
        println!(
            "\nskipped (counted as ignored), a program they need is missing: {}",
            ignored.join(", ")
        );
    }
    runner::finish(&failures, passed, ignored.len(), start)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The numbered chapters of SUMMARY.md, as page names without `.md`.
fn chapters_of(summary: &str) -> Vec<String> {
    let entry = Regex::new(r"^[-*] \[[^\]]*\]\(([^)/]+)\.md\)").unwrap();
    summary
        .lines()
        .filter_map(|l| entry.captures(l).map(|c| c[1].to_string()))
        .collect()
}

/// Every `src/quizzes/*.toml`: file name and text.
fn quiz_files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, read(&p))
        })
        .collect()
}

/// Which pages of `src/` (not its subdirectories) include which quiz file.
fn quiz_includes(src: &Path) -> BTreeMap<String, Vec<String>> {
    let re = Regex::new(r"\{\{#quiz ([^}]+)\}\}").unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in std::fs::read_dir(src).into_iter().flatten().flatten() {
        let page = e.file_name().to_string_lossy().into_owned();
        if !page.ends_with(".md") {
            continue;
        }
        for c in re.captures_iter(&read(&e.path())) {
            let file = c[1].trim().strip_prefix("quizzes/").unwrap_or(c[1].trim());
            out.entry(file.to_string()).or_default().push(page.clone());
        }
    }
    out
}

fn string<'a>(q: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = q;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_string)).collect(),
        _ => None,
    }
}

/// The static checks of one question: its id and its output check, or what is wrong.
fn check_question(
    root: &Path,
    chapter: &str,
    file: &str,
    q: &Value,
    anchors: &mut BTreeMap<String, Option<BTreeSet<String>>>,
) -> Result<(String, Option<Verify>), Vec<String>> {
    let mut problems = Vec::new();
    let id = string(q, &["id"]).unwrap_or_default().to_string();
    if !id.starts_with(&format!("{chapter}-")) {
        problems.push(format!(
            "give it an id = \"{chapter}-SLUG\" (it has {id:?}; without one mdbook-quiz writes a random one into the file)"
        ));
    }
    let kind = string(q, &["type"]).unwrap_or_default();
    let prompt = string(q, &["prompt", "prompt"]).unwrap_or_default();
    if prompt.trim().is_empty() {
        problems.push("it has no prompt.prompt".into());
    }
    let (answers, wrong) = match kind {
        "ShortAnswer" => (
            strings(q.get("answer").and_then(|a| a.get("answer"))),
            Some(vec![]),
        ),
        "MultipleChoice" => (
            strings(q.get("answer").and_then(|a| a.get("answer"))),
            strings(q.get("prompt").and_then(|p| p.get("distractors"))),
        ),
        other => {
            problems.push(format!(
                "type {other:?}: a question is a \"ShortAnswer\" or a \"MultipleChoice\""
            ));
            (Some(vec![]), Some(vec![]))
        }
    };
    let (Some(answers), Some(wrong)) = (answers, wrong) else {
        problems.push(
            "its answer.answer (and a MultipleChoice's prompt.distractors) must be text".into(),
        );
        return Err(problems);
    };
    if answers.is_empty() || answers.iter().any(|a| a.trim().is_empty()) {
        problems.push("it has no answer.answer".into());
    }
    if kind == "MultipleChoice" && wrong.is_empty() {
        problems.push("a multiple-choice question has prompt.distractors".into());
    }

    let context = string(q, &["context"]).unwrap_or_default();
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let all_text: Vec<&str> = [prompt, context]
        .into_iter()
        .chain(answers.iter().map(String::as_str))
        .chain(wrong.iter().map(String::as_str))
        .collect();
    for text in &all_text {
        for c in link.captures_iter(text) {
            if let Err(e) = check_link(root, &c[1], anchors) {
                problems.push(e);
            }
        }
    }
    let internal_in_context = link
        .captures_iter(context)
        .filter(|c| check_link(root, &c[1], anchors) == Ok(true))
        .count();
    if context.trim().is_empty() || internal_in_context == 0 {
        problems.push(
            "its context explains the answer and links the section that teaches it: \
             [text](PAGE.html#anchor)"
                .into(),
        );
    }

    let verify = match q.get("verify") {
        None => {
            let lower = prompt.to_lowercase();
            if let Some(w) = OUTPUT_WORDS.iter().find(|w| {
                lower
                    .match_indices(*w)
                    .any(|(at, _)| !lower[..at].ends_with(|c: char| c.is_alphabetic()))
            }) {
                problems.push(format!(
                    "its prompt asks about a program's behaviour ({w:?}): give it a \
                     [questions.verify] table, or word it as a question about ideas"
                ));
            }
            None
        }
        Some(v) => {
            let commands = strings(v.get("commands")).unwrap_or_default();
            let expect = string(v, &["expect"]).unwrap_or_default().to_string();
            let needs = strings(v.get("needs")).unwrap_or_default();
            if commands.is_empty() {
                problems.push("verify.commands: list the commands, as a reader types them".into());
            }
            for c in &commands {
                if !prompt.contains(c.as_str()) {
                    problems.push(format!(
                        "verify runs `{c}`, which the prompt does not show: put the command in the prompt"
                    ));
                }
            }
            if expect.matches("{answer}").count() != 1 {
                problems.push("verify.expect contains {answer} exactly once".into());
            }
            if expect.lines().any(|l| l.trim() == "...") {
                problems.push("verify.expect lines are consecutive output lines: no `...`".into());
            }
            Some(Verify {
                file: file.to_string(),
                id: id.clone(),
                commands,
                expect,
                needs,
                answers: answers.clone(),
                wrong: if kind == "MultipleChoice" {
                    wrong
                } else {
                    vec![]
                },
            })
        }
    };
    if problems.is_empty() {
        Ok((id, verify))
    } else {
        Err(problems)
    }
}

/// Ok(true) for a link to a section of the book that exists, Ok(false) for a web link,
/// Err for a link the rendered quiz cannot follow.
fn check_link(
    root: &Path,
    target: &str,
    anchors: &mut BTreeMap<String, Option<BTreeSet<String>>>,
) -> Result<bool, String> {
    if target.starts_with("https://") || target.starts_with("http://") {
        return Ok(false);
    }
    let Some((page, anchor)) = target
        .split_once('#')
        .and_then(|(p, a)| Some((p.strip_suffix(".html")?, a)))
    else {
        return Err(format!(
            "link {target}: write PAGE.html#anchor (a quiz's Markdown is rendered in the \
             browser, where .md links are not rewritten)"
        ));
    };
    let ids = anchors.entry(page.to_string()).or_insert_with(|| {
        std::fs::read_to_string(root.join("src").join(format!("{page}.md")))
            .ok()
            .map(|t| heading_ids(&t))
    });
    match ids {
        None => Err(format!("link {target}: there is no page src/{page}.md")),
        Some(ids) if !ids.contains(anchor) => Err(format!(
            "link {target}: src/{page}.md has no heading with the id {anchor:?} (it has {ids:?})"
        )),
        Some(_) => Ok(true),
    }
}

/// The ids mdBook 0.5 gives a page's headings (mdbook-html's `id_from_content` and
/// `unique_id`): lower case, white space to `-`, other punctuation dropped, `-1`, `-2`
/// for repeats. Headings inside fenced blocks are not headings.
fn heading_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            continue;
        }
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let id: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        let mut unique = id.clone();
        let mut n = 1;
        while !ids.insert(unique.clone()) {
            unique = format!("{id}-{n}");
            n += 1;
        }
    }
    ids
}

/// Runs one question's commands and checks its answer against their output:
/// Ok(true) checked, Ok(false) skipped (a program it needs is missing, not on CI).
fn verify(root: &Path, v: &Verify) -> Result<bool, String> {
    let missing = runner::missing_programs(&v.needs);
    if !missing.is_empty() {
        if runner::in_ci() {
            return Err(format!(
                "CI must verify this answer; {} is missing",
                missing.join(", ")
            ));
        }
        return Ok(false);
    }
    let mut output = Vec::new();
    for command in &v.commands {
        let (run, typed) = runner::unique_typed_names(command)?;
        let lines = runner::run(root, &run).map_err(|e| format!("$ {command}\n{e}"))?;
        output.extend(runner::restore_typed_names(&lines, &typed)?);
    }
    let shown = || format!("--- output of the commands\n{}", output.join("\n"));
    let expected = |answer: &str| -> Vec<String> {
        v.expect
            .replace("{answer}", &answer.replace('`', ""))
            .lines()
            .map(str::to_string)
            .collect()
    };
    for answer in &v.answers {
        if !appears(&expected(answer), &output) {
            return Err(format!(
                "the quiz's answer {answer:?} disagrees with the program: no output line matches\n  {}\n{}",
                expected(answer).join("\n  "),
                shown()
            ));
        }
    }
    for wrong in &v.wrong {
        if appears(&expected(wrong), &output) {
            return Err(format!(
                "the distractor {wrong:?} matches the output too: the expected line cannot tell \
                 the answer from it\n{}",
                shown()
            ));
        }
    }
    // A mark next to `{answer}` could swallow part of it: the answer with any one
    // character left out must not match either.
    for answer in &v.answers {
        let plain = answer.replace('`', "");
        for (ci, c) in plain.char_indices() {
            let shorter = format!("{}{}", &plain[..ci], &plain[ci + c.len_utf8()..]);
            if appears(&expected(&shorter), &output) {
                return Err(format!(
                    "the answer without one character, {shorter:?}, matches too: \
                     make verify.expect stricter around {{answer}}\n{}",
                    shown()
                ));
            }
        }
    }
    for answer in &v.answers {
        let lines = expected(answer);
        for (li, line) in lines.iter().enumerate() {
            for (ci, c) in line.trim_end().char_indices() {
                let mut changed = lines.clone();
                let replacement = if c == '#' { '%' } else { '#' };
                // No mark stands for '#' or '%' (see tests/matcher.rs): the changed line
                // can match only an output line that holds the replacement.
                if !output.iter().any(|l| l.contains(replacement)) {
                    continue;
                }
                changed[li] = format!("{}{replacement}{}", &line[..ci], &line[ci + c.len_utf8()..]);
                if appears(&changed, &output) {
                    return Err(format!(
                        "the changed expected line {:?} still matches: make verify.expect stricter\n{}",
                        changed[li],
                        shown()
                    ));
                }
            }
        }
    }
    Ok(true)
}

/// True when the `expected` lines (transcript marks allowed) match consecutive lines
/// of `output`.
fn appears(expected: &[String], output: &[String]) -> bool {
    let compiled = transcript::compile(expected);
    (0..output.len())
        .filter(|j| j + expected.len() <= output.len())
        .any(|j| transcript::matches_compiled(&compiled, &output[j..j + expected.len()]))
}

/// The checker's own promises, on a real command: the right answer passes; a swapped
/// answer, a distractor that also matches and an `expect` that ignores the answer fail.
fn harness_checks(root: &Path) -> Vec<(&'static str, bool)> {
    let case = |answer: &str, wrong: &str, expect: &str| Verify {
        file: "harness".into(),
        id: "harness".into(),
        commands: vec!["cargo run -q --example segments -- perms".into()],
        expect: expect.into(),
        needs: vec![],
        answers: vec![answer.into()],
        wrong: vec![wrong.into()],
    };
    let line = "mode {answer}: read and write for its owner, nothing for anyone else";
    vec![
        (
            "the right answer passes",
            verify(root, &case("`0600`", "0644", line)).is_ok(),
        ),
        (
            "an answer swapped with its distractor fails",
            verify(root, &case("0644", "0600", line)).is_err(),
        ),
        (
            "a distractor that matches the output too fails",
            verify(root, &case("0600", "06[..]", line)).is_err(),
        ),
        (
            "an expected line loose enough to accept another answer fails",
            verify(root, &case("00", "0644", "mode [..]{answer}: [..]")).is_err(),
        ),
    ]
}
