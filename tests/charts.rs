//! The charts and the quoted figures agree with the recorded data: `scripts/charts.py
//! --check` redraws every chart from `data/` and compares it with `src/charts/`, and
//! checks every `<!--fig …-->` figure in the pages. A copy of the book with one figure
//! or one chart changed must fail the same check (the check can notice).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use shmbook::process::{run, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `python3 scripts/charts.py --check [--root DIR]`: (passed, what it printed).
fn check(dir: Option<&Path>) -> (bool, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("scripts/charts.py")).arg("--check");
    if let Some(dir) = dir {
        cmd.arg("--root").arg(dir);
    }
    let ran = run(&mut cmd, Output::Merged, None, Duration::from_secs(60)).expect("run python3");
    let text = String::from_utf8_lossy(&ran.stdout).into_owned();
    (ran.status.is_some_and(|s| s.success()), text)
}

#[test]
fn charts_and_figures_agree_with_the_data() {
    let (ok, text) = check(None);
    assert!(ok, "{text}");
}

/// A copy of `src/` (the pages and the charts) and all of `data/` under target/, for
/// tampering.
fn copy_of_book(tag: &str) -> PathBuf {
    let dir = root()
        .join("target")
        .join(format!("charts-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["src", "src/charts"] {
        copy_files(&root().join(sub), &dir.join(sub), false);
    }
    copy_files(&root().join("data"), &dir.join("data"), true);
    dir
}

/// The files of `from` into `to`, and with `deep` those of its folders too.
fn copy_files(from: &Path, to: &Path, deep: bool) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let path = e.path();
        if path.is_file() {
            std::fs::copy(&path, to.join(e.file_name())).unwrap();
        } else if deep && path.is_dir() {
            copy_files(&path, &to.join(e.file_name()), true);
        }
    }
}

/// A figure: the first `<!--fig` in a page, its number's last digit changed.
#[test]
fn a_changed_figure_fails() {
    let dir = copy_of_book("figure");
    let page = std::fs::read_dir(dir.join("src"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("<!--fig ")))
        .expect("a page quotes a figure with <!--fig");
    let text = std::fs::read_to_string(&page).unwrap();
    let at = text.find("<!--fig ").unwrap();
    let digit = text[..at].rfind(|c: char| c.is_ascii_digit()).unwrap();
    let changed = if &text[digit..=digit] == "9" {
        "8"
    } else {
        "9"
    };
    let tampered = format!("{}{changed}{}", &text[..digit], &text[digit + 1..]);
    std::fs::write(&page, tampered).unwrap();
    let (ok, out) = check(Some(&dir));
    assert!(
        !ok && out.contains("the page says"),
        "a changed figure passed: {out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A chart: its first label changed.
#[test]
fn a_changed_chart_fails() {
    let dir = copy_of_book("chart");
    let chart = std::fs::read_dir(dir.join("src/charts"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "svg"))
        .expect("a chart in src/charts");
    let svg = std::fs::read_to_string(&chart).unwrap();
    std::fs::write(&chart, svg.replacen("<text", "<text data-x=\"1\"", 1)).unwrap();
    let (ok, out) = check(Some(&dir));
    assert!(
        !ok && out.contains("differs from what data/ gives"),
        "a changed chart passed: {out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
