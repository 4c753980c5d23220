//! Grading files from elsewhere (`--from PATH`, and `--solutions`): the grader builds a
//! copy of itself whose `homework/src/` holds those files, and runs it.
//!
//! The copy (a "tree") lives in `target/grade-trees/<KEY>/`, where KEY is a hash of the
//! exercise files it holds: different files can never be graded by a build of
//! other files (no stale build, whatever the files' timestamps), and files graded
//! before are not built again. A tree holds exactly the given files; an exercise file
//! not given is the one in this copy's `homework/src/` (in a hand-out: the starter),
//! so nothing of an earlier student can leak in. Trees share the target directory, so
//! the dependencies are built once; each tree's grader has a name of its own
//! (`grade-t<KEY>`), so trees built at the same time do not replace each other's
//! program.
//!
//! A file that does not compile costs its exercise only: the tree is built again with
//! that file replaced by its starter, and the exercise is reported as failed with the
//! compiler's first error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::exercises::EXERCISES;

/// What to grade instead of `homework/src/`.
pub struct Source {
    /// Said in the first line: "checking {label} (N exercises)".
    pub label: String,
    /// `checked` in the JSON.
    pub checked: &'static str,
    /// Exercise name → its file.
    pub files: BTreeMap<&'static str, PathBuf>,
}

/// The repository this grader was built from.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("grade/ sits in the repository")
        .to_path_buf()
}

/// A directory of exercise files (`NAME.rs`), or one file named `NAME.rs` or lying in
/// a directory called `NAME` (as in `grade/regression/NAME/wrong_*.rs`).
pub fn from_path(path: &str) -> Result<Source, String> {
    let p = Path::new(path);
    let mut files = BTreeMap::new();
    if p.is_dir() {
        for e in EXERCISES {
            let f = p.join(format!("{}.rs", e.name));
            if f.is_file() {
                files.insert(e.name, f);
            }
        }
        if files.is_empty() {
            return Err(format!(
                "--from: {path} holds no exercise file (NAME.rs, see `list`)"
            ));
        }
    } else if p.is_file() {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let parent = p
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or("");
        let Some(e) = EXERCISES
            .iter()
            .find(|e| e.name == stem || e.name == parent)
        else {
            return Err(format!(
                "--from: {path}: name the file NAME.rs, or put it in a directory NAME, for an exercise NAME (see `list`)"
            ));
        };
        files.insert(e.name, p.to_path_buf());
    } else {
        return Err(format!("--from: {path} is neither a file nor a directory"));
    }
    Ok(Source {
        label: path.to_string(),
        checked: "homework",
        files,
    })
}

/// The reference solutions.
pub fn solutions() -> Result<Source, String> {
    let dir = root().join("solutions");
    if !dir.is_dir() {
        return Err(
            "--solutions: there is no solutions/ directory in this copy (a hand-out has none)"
                .into(),
        );
    }
    let files = EXERCISES
        .iter()
        .map(|e| (e.name, dir.join(format!("{}.rs", e.name))))
        .collect();
    Ok(Source {
        label: "the reference solutions in solutions/".into(),
        checked: "solutions",
        files,
    })
}

/// Builds the tree for `source` and runs its grader with `args` (the grading options
/// without `--from`/`--solutions`).
pub fn grade(source: &Source, args: &[String]) -> ExitCode {
    match build(source) {
        Ok(built) => {
            let status = built.command(source).args(args).status();
            match status {
                Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(0, 255) as u8),
                Err(e) => {
                    eprintln!("grade: running the grader built for {}: {e}", source.label);
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("grade: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// A tree's grader, and the exercises whose file did not compile (name → the
/// compiler's first error).
pub struct Built {
    pub exe: PathBuf,
    pub broken: BTreeMap<String, String>,
}

impl Built {
    /// The command that runs the tree's grader on `source` (add the arguments).
    pub fn command(&self, source: &Source) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.env("SHMBOOK_GRADE_LABEL", &source.label)
            .env("SHMBOOK_GRADE_CHECKED", source.checked)
            .env(
                "SHMBOOK_GRADE_BROKEN",
                serde_json::to_string(&self.broken).expect("a map of strings"),
            );
        cmd
    }
}

/// The texts of the exercise files of the tree.
fn texts(source: &Source) -> anyhow::Result<BTreeMap<&'static str, String>> {
    use anyhow::Context;
    let root = root();
    EXERCISES
        .iter()
        .map(|e| {
            let path = source
                .files
                .get(e.name)
                .cloned()
                .unwrap_or_else(|| root.join("homework/src").join(format!("{}.rs", e.name)));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok((e.name, text))
        })
        .collect()
}

/// 64-bit FNV-1a: the same files give the same tree on every run and every machine.
fn fnv(texts: &BTreeMap<&str, String>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, text) in texts {
        for b in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Writes `text` to `path` unless it holds that already (an unchanged file keeps its
/// timestamp, so cargo does not rebuild what is up to date).
fn put(path: &Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Copies the files of directory `from` (recursively) into `to`.
fn put_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            put_dir(&entry.path(), &target)?;
        } else {
            put(&target, &std::fs::read_to_string(entry.path())?)?;
        }
    }
    Ok(())
}

/// The target directory: CARGO_TARGET_DIR, or the repository's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// How many trees stay built whatever their age: the most recently used. A tree costs
/// about 60 MB (its grader and homework builds; built without incremental caches), so a
/// class of 30 would otherwise leave gigabytes for good; a tree pruned away is built
/// again when needed.
const KEEP_TREES: usize = 8;

/// Beyond the [`KEEP_TREES`] most recent, a tree unused for this long is removed. A
/// day: the book's own test suite uses more than eight trees (the regression set's, the
/// solutions', the fake class's), and a test run a day must not rebuild them.
const KEEP_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The file whose time says when a tree was last used.
const USED: &str = ".used";

/// Marks `tree` as used now, then removes the trees beyond the `keep` most recently
/// used ones that were not used for `keep_for`, with everything cargo built for them
/// (their names carry the tree's key).
fn prune(
    tree: &Path,
    keep: usize,
    keep_for: std::time::Duration,
    target: &Path,
) -> anyhow::Result<()> {
    use std::time::SystemTime;
    std::fs::write(tree.join(USED), b"")?;
    let trees_dir = tree.parent().expect("a tree sits in grade-trees/");
    let mut trees: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(trees_dir)?
        .flatten()
        .map(|e| {
            let used = std::fs::metadata(e.path().join(USED))
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (used, e.path())
        })
        .collect();
    trees.sort_by_key(|t| std::cmp::Reverse(t.0));
    let recent = SystemTime::now() - keep_for;
    for (used, old) in trees.into_iter().skip(keep) {
        if used > recent {
            continue;
        }
        let Some(key) = old.file_name().and_then(|k| k.to_str()).map(str::to_owned) else {
            continue;
        };
        remove_builds(target, &key)?;
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Removes what cargo built for the tree `key` in every profile's directory: the
/// packages `grade-t<KEY>` and `homework-t<KEY>` name their files, fingerprints,
/// build-script and incremental directories after it.
fn remove_builds(target: &Path, key: &str) -> anyhow::Result<()> {
    for profile in ["debug", "release"] {
        let base = target.join(profile);
        for sub in ["", "deps", ".fingerprint", "build", "incremental"] {
            let Ok(entries) = std::fs::read_dir(base.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if !(name.contains(&format!("grade-t{key}"))
                    || name.contains(&format!("grade_t{key}"))
                    || name.contains(&format!("homework-t{key}"))
                    || name.contains(&format!("homework_t{key}")))
                {
                    continue;
                }
                let path = e.path();
                if path.is_dir() {
                    std::fs::remove_dir_all(&path)?;
                } else {
                    std::fs::remove_file(&path)?;
                }
            }
        }
    }
    Ok(())
}

/// Says at once that a tree is being compiled (cargo's output is captured for its
/// compile errors, so nothing else would show), when a person is watching: on a
/// terminal, and only the first time for these files.
fn announce(exe: &Path, label: &str) {
    use std::io::IsTerminal;
    if !exe.exists() && std::io::stderr().is_terminal() {
        eprintln!(
            "grade: compiling a grader with {label} (once for these files: {TREE_BUILD} on \
             an idle 2-core machine)"
        );
    }
}

/// What compiling one tree costs (the dependencies are built already): 11 s of processor
/// time measured, one core busy most of it (linking); see
/// src/instructors.md.
const TREE_BUILD: &str = "about 15 s";

/// Builds the tree for `source`.
pub fn build(source: &Source) -> anyhow::Result<Built> {
    use anyhow::{bail, Context};
    let root = root();
    let mut texts = texts(source)?;
    let mut broken = BTreeMap::new();
    loop {
        // A tree per set of files: after a broken file is replaced by its starter, the
        // files differ, and so does the tree (which then stays built for next time).
        let (tree, package) = write_tree(&root, &texts)?;
        announce(&target_dir().join("debug").join(&package), &source.label);
        let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "build",
                "--quiet",
                "--message-format",
                "json",
                "--manifest-path",
            ])
            .arg(tree.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir())
            // Built once per set of files: an incremental cache would only double the
            // tree's size on disk.
            .env("CARGO_INCREMENTAL", "0")
            .stderr(Stdio::piped())
            .output()
            .context("running cargo build")?;
        if out.status.success() {
            if let Err(e) = prune(&tree, KEEP_TREES, KEEP_FOR, &target_dir()) {
                eprintln!("grade: could not remove old grader copies: {e:#}");
            }
            return Ok(Built {
                exe: target_dir().join("debug").join(&package),
                broken,
            });
        }
        let errors = first_errors(&String::from_utf8_lossy(&out.stdout));
        let newly: Vec<_> = errors
            .into_iter()
            .filter(|(n, _)| !broken.contains_key(n))
            .collect();
        if newly.is_empty() {
            bail!(
                "building the grader for {} failed:\n{}",
                source.label,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for (name, error) in newly {
            let starter = root.join("homework/src").join(format!("{name}.rs"));
            let text = std::fs::read_to_string(&starter)?;
            if texts.get(name.as_str()) == Some(&text) {
                bail!("homework/src/{name}.rs itself does not compile: {error}");
            }
            texts.insert(
                EXERCISES
                    .iter()
                    .find(|e| e.name == name)
                    .expect("known")
                    .name,
                text,
            );
            broken.insert(name, error);
        }
    }
}

/// Writes the tree for these exercise files; returns its directory and the name of
/// its grader.
fn write_tree(
    root: &Path,
    texts: &BTreeMap<&'static str, String>,
) -> anyhow::Result<(PathBuf, String)> {
    let key = format!("{:016x}", fnv(texts));
    let tree = target_dir().join("grade-trees").join(&key);
    let package = format!("grade-t{key}");
    let shmbook = root.display().to_string();
    put(&tree.join("Cargo.toml"), &workspace_manifest(root)?)?;
    put(
        &tree.join("Cargo.lock"),
        &std::fs::read_to_string(root.join("Cargo.lock"))?,
    )?;
    // Cargo keys a workspace member's build by its name and its path inside the
    // workspace, which are the same in every tree: each tree's packages get names of
    // their own (the grader still calls the crate `homework`).
    let homework = format!("homework-t{key}");
    let grade_toml = std::fs::read_to_string(root.join("grade/Cargo.toml"))?
        .replacen("name = \"grade-core\"", &format!("name = \"{package}\""), 1)
        .replace(
            "homework = { path = \"../homework\" }",
            &format!("homework = {{ package = \"{homework}\", path = \"../homework\" }}"),
        )
        .replace("path = \"..\"", &format!("path = {shmbook:?}"));
    put(&tree.join("grade/Cargo.toml"), &grade_toml)?;
    put(
        &tree.join("grade/build.rs"),
        &std::fs::read_to_string(root.join("grade/build.rs"))?,
    )?;
    put_dir(&root.join("grade/src"), &tree.join("grade/src"))?;
    let homework_toml = std::fs::read_to_string(root.join("homework/Cargo.toml"))?
        .replacen("name = \"homework\"", &format!("name = \"{homework}\""), 1)
        .replace("path = \"..\"", &format!("path = {shmbook:?}"));
    put(&tree.join("homework/Cargo.toml"), &homework_toml)?;
    put(
        &tree.join("homework/src/lib.rs"),
        &std::fs::read_to_string(root.join("homework/src/lib.rs"))?,
    )?;
    for (name, text) in texts {
        put(&tree.join(format!("homework/src/{name}.rs")), text)?;
    }
    // Used now: another grader's `prune` (graders run side by side) must not take a
    // tree away while it is being built.
    std::fs::write(tree.join(USED), b"")?;
    Ok((tree, package))
}

/// The tree's workspace: its two members, and the lints the members inherit from the
/// repository's workspace (`[workspace.lints...]` tables, copied).
fn workspace_manifest(root: &Path) -> anyhow::Result<String> {
    let mut out = String::from(
        "# Written by the grader (grade/src/tree.rs): a copy to grade other files with.\n[workspace]\nmembers = [\"grade\", \"homework\"]\nresolver = \"2\"\n",
    );
    let mut copying = false;
    for line in std::fs::read_to_string(root.join("Cargo.toml"))?.lines() {
        if line.starts_with('[') {
            copying = line.starts_with("[workspace.lints");
            if copying {
                out.push('\n');
            }
        }
        if copying {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// From cargo's JSON messages: for each exercise with a compile error in its file (or
/// in the grader's code for it, when a public item changed), the first error.
fn first_errors(messages: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for line in messages.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-message" || v["message"]["level"] != "error" {
            continue;
        }
        let message = v["message"]["message"].as_str().unwrap_or("an error");
        let Some(spans) = v["message"]["spans"].as_array() else {
            continue;
        };
        for span in spans {
            let file = span["file_name"].as_str().unwrap_or("");
            let Some(e) = EXERCISES.iter().find(|e| {
                file.ends_with(&format!("/{}.rs", e.name))
                    || file.ends_with(&format!("loom_{}.rs", e.name))
            }) else {
                continue;
            };
            let place = if file.contains("homework/src/") {
                format!("homework/src/{}.rs:{}", e.name, span["line_start"])
            } else if file.contains("loom_") {
                format!(
                    "in the copy the grader model-checks with loom, line {}",
                    span["line_start"]
                )
            } else {
                format!(
                    "the grader's use of its public items, {}.rs:{}",
                    e.name, span["line_start"]
                )
            };
            found
                .entry(e.name.to_string())
                .or_insert_with(|| format!("does not compile: {message} ({place})"));
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// Twelve trees, two kept whatever their age, and any used within the last hour:
    /// the current one and the next most recent stay, and so does a third used six
    /// minutes ago; the nine others, used hours ago, go with every file cargo built for
    /// them, and nothing of another package is touched.
    #[test]
    fn prune_keeps_the_recent_trees_and_removes_the_builds_of_the_others() {
        let target = std::env::temp_dir().join(format!("grade-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&target);
        let now = SystemTime::now();
        let key = |i: usize| format!("{i:016x}");
        for i in 0..12 {
            let tree = target.join("grade-trees").join(key(i));
            std::fs::create_dir_all(&tree).unwrap();
            let age = match i {
                11 => 300,
                10 => 360,
                _ => 3600 * (i as u64 + 1),
            };
            let used = std::fs::File::create(tree.join(USED)).unwrap();
            used.set_modified(now - Duration::from_secs(age)).unwrap();
            for (dir, name) in [
                ("debug", format!("grade-t{}", key(i))),
                ("debug/deps", format!("libhomework_t{}-abc.rlib", key(i))),
                ("debug/.fingerprint", format!("grade-t{}-abc", key(i))),
                ("debug/incremental", format!("homework_t{}-xyz", key(i))),
            ] {
                std::fs::create_dir_all(target.join(dir)).unwrap();
                std::fs::write(target.join(dir).join(name), b"").unwrap();
            }
        }
        std::fs::write(target.join("debug/deps/libserde-123.rlib"), b"").unwrap();
        // Tree 0 is the one just built: marked used now.
        let current = target.join("grade-trees").join(key(0));
        prune(&current, 2, Duration::from_secs(3600), &target).unwrap();
        let left = |i: usize| target.join("grade-trees").join(key(i)).exists();
        let built = |i: usize| {
            target
                .join("debug")
                .join(format!("grade-t{}", key(i)))
                .exists()
        };
        for i in [0, 11, 10] {
            assert!(left(i) && built(i), "tree {i} was removed");
        }
        for i in 1..10 {
            assert!(!left(i) && !built(i), "tree {i} stayed");
            for dir in ["debug/deps", "debug/.fingerprint", "debug/incremental"] {
                let stays = std::fs::read_dir(target.join(dir))
                    .unwrap()
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().contains(&key(i)));
                assert!(!stays, "a build of tree {i} stayed in {dir}");
            }
        }
        assert!(target.join("debug/deps/libserde-123.rlib").exists());
        std::fs::remove_dir_all(&target).unwrap();
    }
}
