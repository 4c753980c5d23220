//! Every `unsafe` block and `unsafe impl` in the book's code carries a `// SAFETY:`
//! comment a reader can check, on the lines just above it (or the same line).
//! `unsafe fn` declarations are exempt: their contract is a `# Safety` doc section.

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

#[test]
fn every_unsafe_block_has_a_safety_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["lib", "examples", "tests", "solutions"] {
        rust_files(&root.join(dir), &mut files);
    }
    for extra in std::fs::read_dir(root).into_iter().flatten().flatten() {
        // workspace members (any directory with a Cargo.toml besides the root)
        let p = extra.path();
        if p.is_dir() && p.join("Cargo.toml").is_file() {
            rust_files(&p, &mut files);
        }
    }
    let mut missing = Vec::new();
    let mut seen = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !needs_comment(line) {
                continue;
            }
            seen += 1;
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
                    || above.ends_with("{") && j + 1 == i)
                {
                    break;
                }
            }
            if !ok {
                missing.push(format!(
                    "{}:{}: {}",
                    file.strip_prefix(root).unwrap().display(),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(seen > 0, "found no unsafe code at all: the scan is broken");
    assert!(
        missing.is_empty(),
        "unsafe without a `// SAFETY:` comment just above:\n{}",
        missing.join("\n")
    );
}
