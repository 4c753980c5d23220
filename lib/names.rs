//! Segment names: unique ones for examples, and checks for the ones a reader types.
//!
//! A POSIX shared-memory name is one leading `/` and then a file name with no other
//! `/`. Linux allows up to 255 bytes after the slash; macOS allows 31 bytes *including*
//! the slash (`PSHMNAMLEN`). The book keeps every name within the macOS limit so that
//! the examples behave the same everywhere.

use std::sync::atomic::{AtomicU32, Ordering};

/// Every name the examples make starts with this, so that leftovers are easy to spot
/// (`ls /dev/shm | grep shmbook` on Linux).
pub const PREFIX: &str = "/shmbook-";

/// When this environment variable names a file, [`unique`] appends every name it
/// makes to that file, one a line, and so does the cleanup for every segment and
/// semaphore it registers. The transcript suite (`tests/book.rs`) sets it, so
/// that its leak check counts the segments its own examples and their helpers made,
/// and never another program's.
pub const LOG_VAR: &str = "SHMBOOK_NAME_LOG";

/// The longest portable name, slash included (macOS's `PSHMNAMLEN`).
pub const MAX_PORTABLE_LEN: usize = 31;

/// A name no other running process uses: `/shmbook-TAG-PID-N`.
///
/// The process id makes it unique among running processes, the counter among the
/// names this process makes. `tag` says which example made it (cut to 8 characters, so
/// the name stays within [`MAX_PORTABLE_LEN`]).
///
/// Making a name creates nothing and registers nothing: create the segment through
/// [`crate::cleanup::segment`], which registers the name for removal only once this
/// process has created it.
///
/// A name already taken — a leftover of an earlier process that had the same id (ids
/// wrap around) — is skipped: the next number is tried, so a run never fails on, or
/// removes, another process's segment.
pub fn unique(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let tag: String = tag.chars().take(8).collect();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{tag}-{}-{n}", std::process::id());
        if taken(&name) {
            continue;
        }
        log_if_asked(&name);
        return name;
    }
}

/// True when something — a segment, or anything else — already has this name.
fn taken(name: &str) -> bool {
    #[cfg(target_os = "linux")]
    {
        std::fs::symlink_metadata(std::path::Path::new("/dev/shm").join(&name[1..])).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        !matches!(crate::os::shm_stat(name), Ok(None))
    }
}

/// Appends `name` to the suite's log if [`LOG_VAR`] names one. [`unique`] logs every
/// name it makes, and [`crate::cleanup`] every segment and semaphore it registers (a
/// name typed by the reader, or one `shared_memory` chose at random); a program whose
/// library names its own segments (the iceoryx2 example) logs them with it.
pub fn log_if_asked(name: &str) {
    if let Some(log) = std::env::var_os(LOG_VAR) {
        log_name(std::path::Path::new(&log), name);
    }
}

/// Appends `name` to the suite's log (see [`LOG_VAR`]); one `write` with `O_APPEND`,
/// so that lines from processes writing at once stay whole. A failure only costs the
/// suite's leak check a name, so it is ignored.
fn log_name(log: &std::path::Path, name: &str) {
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log);
    let _ = file.and_then(|mut f| f.write_all(format!("{name}\n").as_bytes()));
}

/// Checks a name typed by the reader and returns it with its leading slash.
///
/// Accepted: an optional `/`, then 1 to 30 characters from `A-Z a-z 0-9 . _ -`.
pub fn check(word: &str) -> Result<String, String> {
    let body = word.strip_prefix('/').unwrap_or(word);
    if body.is_empty() || body == "." || body == ".." {
        return Err(format!(
            "'{word}' is not a segment name (write e.g. /shmbook-demo)"
        ));
    }
    if let Some(bad) = body
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "'{word}' is not a segment name: '{bad}' is not allowed (use A-Z a-z 0-9 . _ -)"
        ));
    }
    if body.len() + 1 > MAX_PORTABLE_LEN {
        return Err(format!(
            "'{word}' is {} characters with its slash; the portable limit is {MAX_PORTABLE_LEN}",
            body.len() + 1
        ));
    }
    Ok(format!("/{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_fit_macos() {
        let a = unique("a-very-long-tag");
        let b = unique("a-very-long-tag");
        assert_ne!(a, b);
        assert!(a.len() <= MAX_PORTABLE_LEN, "{a}");
        assert!(check(&a).is_ok());
    }

    #[test]
    fn checks() {
        assert_eq!(check("demo").as_deref(), Ok("/demo"));
        assert_eq!(check("/demo").as_deref(), Ok("/demo"));
        assert!(check("/").is_err());
        assert!(check("/.").is_err());
        assert!(check("..").is_err());
        assert!(check("a/b").is_err());
        assert!(check("%%").is_err());
        assert!(check(&"x".repeat(31)).is_err());
        assert!(check(&"x".repeat(30)).is_ok());
    }
}
