//! The starter code is cut from the solutions, so the two cannot drift apart.
//!
//! In `solutions/NAME.rs`, the lines from `// SOLUTION: begin` to `// SOLUTION: end`
//! are the solution; a line `// STARTER: CODE` is what the starter has instead (usually
//! `todo!("...")`). Everything else — the exercise's description, the types, the
//! signatures and the book's `ANCHOR` lines — is the same in both files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const BANNER: &str = "// Generated from solutions/ by `cargo run -p grade -- starter`: in the book's\n// repository edit solutions/ instead. Students: this file is yours to complete.\n\n";

/// Turns one solution file into its starter file.
pub fn cut(solution: &str) -> Result<String, String> {
    let mut out = String::from(BANNER);
    let mut inside = false;
    for (i, line) in solution.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        match trimmed {
            "// SOLUTION: begin" if !inside => inside = true,
            "// SOLUTION: end" if inside => inside = false,
            "// SOLUTION: begin" | "// SOLUTION: end" => {
                return Err(format!("line {}: unbalanced `{trimmed}`", i + 1))
            }
            _ if inside => {}
            _ => match trimmed.strip_prefix("// STARTER: ") {
                Some(code) => {
                    out.push_str(indent);
                    out.push_str(code);
                    out.push('\n');
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            },
        }
    }
    if inside {
        return Err("a `// SOLUTION: begin` is never ended".into());
    }
    // A region cut from the end (or between blank lines) leaves blank lines behind:
    // keep the file as rustfmt would.
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    Ok(format!("{}\n", out.trim_end()))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("grade/ sits in the repository")
        .to_path_buf()
}

/// Writes (or with `check`, compares) every `homework/src/NAME.rs`.
pub fn run(check: bool) -> ExitCode {
    let root = root();
    let solutions = root.join("solutions");
    if !solutions.is_dir() {
        eprintln!(
            "grade starter: there is no solutions/ directory in this copy (a hand-out has none)"
        );
        return ExitCode::from(2);
    }
    let mut stale = Vec::new();
    for e in crate::exercises::EXERCISES {
        let from = solutions.join(format!("{}.rs", e.name));
        let to = root.join("homework/src").join(format!("{}.rs", e.name));
        let text = match std::fs::read_to_string(&from) {
            Ok(t) => t,
            Err(err) => {
                eprintln!("grade starter: reading {}: {err}", from.display());
                return ExitCode::from(1);
            }
        };
        let starter = match cut(&text) {
            Ok(s) => s,
            Err(why) => {
                eprintln!("grade starter: {}: {why}", from.display());
                return ExitCode::from(1);
            }
        };
        if std::fs::read_to_string(&to).ok().as_deref() == Some(starter.as_str()) {
            continue;
        }
        if check {
            stale.push(format!("homework/src/{}.rs", e.name));
        } else if let Err(err) = std::fs::write(&to, starter) {
            eprintln!("grade starter: writing {}: {err}", to.display());
            return ExitCode::from(1);
        } else {
            println!("wrote homework/src/{}.rs", e.name);
        }
    }
    if stale.is_empty() {
        if check {
            println!("the starter code is up to date with solutions/");
        }
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "grade starter: out of date with solutions/ (run `cargo run -p grade -- starter`): {}",
            stale.join(", ")
        );
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cuts_solution_regions_and_keeps_the_rest() {
        let solution = "fn f() -> u32 {\n    // STARTER: todo!()\n    // SOLUTION: begin\n    42\n    // SOLUTION: end\n}\n";
        let starter = cut(solution).unwrap();
        assert!(
            starter.ends_with("fn f() -> u32 {\n    todo!()\n}\n"),
            "{starter}"
        );
        assert!(!starter.contains("42"));
    }

    #[test]
    fn refuses_unbalanced_markers() {
        assert!(cut("// SOLUTION: begin\n").is_err());
        assert!(cut("// SOLUTION: end\n").is_err());
    }
}
