//! Before the grader compiles, writes the copies of the atomics exercises that the
//! grader model-checks with loom: the student's file (or the solution's, with the
//! `solutions` feature) with `std::sync::atomic` replaced by `loom::sync::atomic`, a
//! smaller `CAPACITY` (so that loom can explore every interleaving), and `Default`
//! derived for the shared type (loom's atomics cannot be built from zeroed memory).
//! The student's file itself is never changed. (The first build's notice comes from
//! `grade/launch`, which builds this package.)

use std::path::Path;

/// The exercises model-checked with loom, with the type they share between threads.
const MODELLED: [(&str, &str); 2] = [("arrays_ready", "Board"), ("alternatives_ring", "Ring")];

fn main() {
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
