// WRONG (partial): returns the names without their leading slash.
// expect: fail returned
//! Segments, exercise 2: find and remove the segments crashed processes left behind.
//!
//! The book's examples name their segments `PREFIX-PID-N`: the prefix says which
//! program made it, `PID` is the process id of its creator and `N` counts. A process
//! killed before its `Shmem` was dropped leaves its segment in `/dev/shm`. The grader
//! leaves segments of a dead process, of a running process, and of other prefixes, and
//! checks that `sweep` removes exactly the dead process's ones.

use std::path::Path;

use anyhow::Context;

// ANCHOR: task
/// Removes every segment called `{prefix}-{pid}-{n}` (with `prefix` starting with `/`,
/// `pid` and `n` decimal numbers) whose process `pid` no longer runs, and returns the
/// names it removed, with their leading `/`, sorted. Other segments stay untouched.
/// Linux only: the segments are listed from `/dev/shm`.
pub fn sweep(prefix: &str) -> anyhow::Result<Vec<String>> {
    let bare = prefix.strip_prefix('/').unwrap_or(prefix);
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(Path::new("/dev/shm")).context("listing /dev/shm")? {
        let file = entry.context("listing /dev/shm")?.file_name();
        let Some(file) = file.to_str() else { continue };
        // After the prefix: "-PID-N" exactly, both numbers.
        let Some(rest) = file.strip_prefix(bare).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        let Some((pid, n)) = rest.split_once('-') else {
            continue;
        };
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !numeric(pid) || !numeric(n) {
            continue;
        }
        let Ok(pid) = pid.parse::<libc::pid_t>() else {
            continue;
        };
        if pid > 0 && !runs(pid) {
            let name = format!("/{file}");
            shmbook::os::shm_unlink(&name).with_context(|| format!("removing {name}"))?;
            removed.push(file.to_string());
        }
    }
    removed.sort();
    Ok(removed)
}
// ANCHOR_END: task

/// True while process `pid` exists. Signal 0 checks without sending anything; EPERM
/// means the process exists but belongs to another user.
fn runs(pid: libc::pid_t) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only checks that `pid` exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
