//! Two jobs before the grader compiles:
//!
//! 1. The first build of the grader compiles every dependency, which takes minutes on
//!    a small machine, and `cargo run -q` shows nothing meanwhile: say so on the
//!    terminal (this script runs again only when it changes, so only the first build
//!    speaks). Cargo runs this script late in that build (it schedules first what many
//!    crates wait for), so the line comes near its end; src/instructors.md says so.
//! 2. Write the copies of the atomics exercises that the grader model-checks with
//!    loom: the student's file (or the solution's, with the `solutions` feature) with
//!    `std::sync::atomic` replaced by `loom::sync::atomic`, a smaller `CAPACITY` (so
//!    that loom can explore every interleaving), and `Default` derived for the shared
//!    type (loom's atomics cannot be built from zeroed memory). The student's file
//!    itself is never changed.

use std::io::Write;
use std::path::Path;

/// The exercises model-checked with loom, with the type they share between threads.
const MODELLED: [(&str, &str); 2] = [("arrays_ready", "Board"), ("alternatives_ring", "Ring")];

fn main() {
    announce();
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = if std::env::var_os("CARGO_FEATURE_SOLUTIONS").is_some() {
        "solutions"
    } else {
        "homework/src"
    };
    for (name, shared) in MODELLED {
        let from = Path::new(&manifest)
            .join("..")
            .join(dir)
            .join(format!("{name}.rs"));
        println!("cargo:rerun-if-changed={}", from.display());
        let text = std::fs::read_to_string(&from).unwrap_or_default();
        let copy = for_loom(&text, shared);
        std::fs::write(Path::new(&out).join(format!("loom_{name}.rs")), copy)
            .expect("writing to OUT_DIR");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// The copy loom checks: see the module comment.
fn for_loom(text: &str, shared: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        // Inner attributes and doc comments cannot stand in an `include!`d file.
        if t.starts_with("//!") || t.starts_with("#![") {
            continue;
        }
        if t.starts_with("pub const CAPACITY: usize") {
            out.push_str("pub const CAPACITY: usize = 2;\n");
            continue;
        }
        if t.starts_with(&format!("pub struct {shared}")) {
            out.push_str("#[derive(Default)]\n");
        }
        let line = line
            .replace("std::sync::atomic", "loom::sync::atomic")
            .replace("core::sync::atomic", "loom::sync::atomic");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Tells the person waiting that the first build is under way. `cargo run -q` hides a
/// build script's `cargo:warning`, so write to the terminal itself when there is one.
fn announce() {
    // The grader's own builds of a student's copy (`--from`) are not the first build.
    if std::env::var_os("SHMBOOK_GRADE_TREE").is_some() {
        return;
    }
    let message = "grade: building the grader for the first time (3-4 minutes on an idle \
                   2-core machine; later runs start at once)";
    match std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        Ok(mut tty) => {
            let _ = writeln!(tty, "{message}");
        }
        Err(_) => println!("cargo:warning={message}"),
    }
}
