//! Every `unsafe` block in the book's code carries a `// SAFETY:` comment a reader can
//! check. clippy enforces that for all code it compiles: the workspace denies
//! `clippy::undocumented_unsafe_blocks` (blocks and `unsafe impl`) and
//! `clippy::missing_safety_doc` (`unsafe fn` without a `# Safety` section), and CI runs
//! clippy on every package, target and feature (the solutions included).
//!
//! This test covers only what clippy never compiles, and checks that the lints stay on:
//! - the lint table in Cargo.toml, and `[lints] workspace = true` in every member;
//! - `lib/snippets/` (code the docs show as `compile_fail` doctests: clippy skips them);
//! - `grade/regression/` (the grader's wrong and alternative solutions, compiled only by
//!   the grader at run time);
//! - Rust code written in a page (a ```` ```rust ```` fence in `src/` that is not an
//!   `{{#include}}`).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() && name != "target" && !name.starts_with('.') {
            rust_files(&p, out);
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// True when line `i` uses `unsafe` as a block or impl (not `unsafe fn` and not in a
/// comment or string describing it).
fn needs_comment(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    let mut rest = code;
    while let Some(pos) = rest.find("unsafe") {
        let after = rest[pos + 6..].trim_start();
        let before_ok = pos == 0
            || !rest.as_bytes()[pos - 1].is_ascii_alphanumeric()
                && rest.as_bytes()[pos - 1] != b'_'
                && rest.as_bytes()[pos - 1] != b'"'
                && rest.as_bytes()[pos - 1] != b'`';
        if before_ok && (after.starts_with('{') || after.starts_with("impl")) {
            return true;
        }
        rest = &rest[pos + 6..];
    }
    false
}

/// The lines of a file that clippy does not compile, or the Rust fences of a page.
fn unchecked_sources(root: &Path) -> Vec<(String, Vec<String>)> {
    let mut files = Vec::new();
    for dir in ["lib/snippets", "grade/regression"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut out: Vec<(String, Vec<String>)> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            (
                f.strip_prefix(root).unwrap().display().to_string(),
                text.lines().map(str::to_string).collect(),
            )
        })
        .collect();
    let mut pages = Vec::new();
    markdown_files(&root.join("src"), &mut pages);
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        let mut fence: Option<Vec<String>> = None;
        for line in text.lines() {
            let t = line.trim_start();
            match &mut fence {
                None if t.starts_with("```rust") => fence = Some(Vec::new()),
                Some(body) if t.starts_with("```") => {
                    if !body.iter().any(|l| l.contains("{{#include")) {
                        let name = page.strip_prefix(root).unwrap().display().to_string();
                        out.push((name, std::mem::take(body)));
                    }
                    fence = None;
                }
                Some(body) => body.push(line.to_string()),
                None => {}
            }
        }
    }
    out
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// The lines (1-based) that use `unsafe` without a `// SAFETY:` comment just above.
fn missing_comments(lines: &[String]) -> Vec<usize> {
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !needs_comment(line) {
            continue;
        }
        // Look upward through the comment lines (and attribute lines) just above.
        let mut ok = line.contains("SAFETY:");
        let mut j = i;
        while !ok && j > 0 {
            j -= 1;
            let above = lines[j].trim_start();
            if above.contains("SAFETY:") {
                ok = true;
            } else if !(above.starts_with("//")
                || above.starts_with("#[")
                || above.ends_with('(')
                || above.ends_with('=')
                || above.ends_with('{') && j + 1 == i)
            {
                break;
            }
        }
        if !ok {
            missing.push(i + 1);
        }
    }
    missing
}

#[test]
fn the_scan_finds_unsafe_and_its_comment() {
    let lines = |s: &str| s.lines().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(missing_comments(&lines("let x = 1;\nunsafe { f() };")), [2]);
    assert_eq!(missing_comments(&lines("unsafe impl Send for X {}")), [1]);
    assert!(missing_comments(&lines(
        "// SAFETY: f has no preconditions.\nunsafe { f() };"
    ))
    .is_empty());
    assert!(missing_comments(&lines(
        "unsafe fn f() {}\n// the word \"unsafe {\" in a comment"
    ))
    .is_empty());
}

#[test]
fn the_lints_that_check_unsafe_are_denied_in_every_package() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let top = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let table = top
        .split("[workspace.lints.clippy]")
        .nth(1)
        .expect("Cargo.toml has a [workspace.lints.clippy] table");
    let table = table.split("\n[").next().unwrap();
    for lint in ["undocumented_unsafe_blocks", "missing_safety_doc"] {
        assert!(
            table
                .lines()
                .any(|l| l.replace(' ', "") == format!("{lint}=\"deny\"")),
            "Cargo.toml does not deny clippy::{lint}"
        );
    }
    let mut manifests = vec![root.join("Cargo.toml")];
    for e in std::fs::read_dir(root).unwrap().flatten() {
        if e.path().join("Cargo.toml").is_file() {
            manifests.push(e.path().join("Cargo.toml"));
        }
    }
    for m in manifests {
        let text = std::fs::read_to_string(&m).unwrap();
        let lints = text.split("\n[lints]").nth(1).unwrap_or("");
        assert!(
            lints
                .lines()
                .take(3)
                .any(|l| l.replace(' ', "") == "workspace=true"),
            "{} does not take the workspace's lints ([lints] workspace = true)",
            m.display()
        );
    }
}

#[test]
fn unsafe_that_clippy_never_sees_has_a_safety_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for (file, lines) in unchecked_sources(root) {
        for n in missing_comments(&lines) {
            missing.push(format!("{file}: line {n} of it: {}", lines[n - 1].trim()));
        }
    }
    assert!(
        missing.is_empty(),
        "unsafe without a `// SAFETY:` comment just above:\n{}",
        missing.join("\n")
    );
}
