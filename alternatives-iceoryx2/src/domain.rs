//! Each run of this program is an iceoryx2 *domain* of its own, removed when the run
//! ends.
//!
//! iceoryx2 keeps a domain's state in shared memory and in files: a global management
//! segment (a node counter, which iceoryx2 leaves in place by design), one segment or
//! more per service and port, and directories of nodes and services. With the default
//! configuration they would be `/dev/shm/iox2_…` and `/tmp/iceoryx2/`, shared by every
//! program on the machine and never removed. Here run `RUN` (the producer's process id)
//! names everything `shmbook-iox2-RUN-…` in `/dev/shm` (the `shmbook-` that the book's
//! and CI's leak checks look for) and keeps its files in the directory
//! `TMP/shmbook-iox2-RUN`. At the end — also after Ctrl-C, `SIGTERM` or `SIGHUP` —
//! the producer removes both, once no node of the domain lives. A run that was killed
//! (`SIGKILL`) leaves its domain behind; the next run removes it, since the process id
//! in its name is dead.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use iceoryx2::prelude::*;

/// What every name of a domain starts with.
const TAG: &str = "shmbook-iox2-";

/// Where Linux shows POSIX shared memory.
const SHM: &str = "/dev/shm";

/// The start of every name run `run`'s domain has in `/dev/shm`.
fn prefix(run: u32) -> String {
    format!("{TAG}{run}-")
}

/// The directory of run `run`'s domain.
fn root(run: u32) -> PathBuf {
    std::env::temp_dir().join(format!("{TAG}{run}"))
}

// ANCHOR: config
/// The configuration of run `run`'s domain: iceoryx2's defaults with a prefix and a
/// root directory of its own. Every node of the run — the producer's and its helper's —
/// is made with it.
pub fn config(run: u32) -> Result<Config> {
    let mut config = Config::default();
    config.global.prefix =
        FileName::new(prefix(run).as_bytes()).context("an iceoryx2 prefix for the run")?;
    let root = root(run);
    let path = root
        .to_str()
        .context("the temporary directory is not UTF-8")?;
    config
        .global
        .set_root_path(&Path::new(path.as_bytes()).context("an iceoryx2 root path")?);
    Ok(config)
}
// ANCHOR_END: config

// ANCHOR: remove
/// Removes run `run`'s domain: every entry of `/dev/shm` named with its prefix, and
/// its directory. Refuses while a node of it lives (iceoryx2 tells which nodes are
/// alive: each holds a lock that ends with its process). Returns how many entries went.
pub fn remove(run: u32) -> Result<usize> {
    let config = config(run)?;
    let mut alive = 0;
    if root(run).exists() {
        let _ = Node::<ipc::Service>::list(&config, |node| {
            if let NodeState::Alive(_) = node {
                alive += 1;
            }
            CallbackProgression::Continue
        });
    }
    if alive > 0 {
        bail!("{alive} iceoryx2 node(s) of run {run} still alive; its domain stays");
    }
    let mut removed = 0;
    for name in names_in(SHM) {
        if name.starts_with(&prefix(run)) && std::fs::remove_file(format!("{SHM}/{name}")).is_ok() {
            removed += 1;
        }
    }
    match std::fs::remove_dir_all(root(run)) {
        Ok(()) => removed += 1,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", root(run).display())),
    }
    Ok(removed)
}
// ANCHOR_END: remove

/// Removes the domains of runs whose process is gone: a run killed by `SIGKILL` had no
/// chance to remove its own. A domain whose process id is in use again stays until
/// that process ends.
pub fn remove_dead() {
    let temp = std::env::temp_dir();
    let mut runs: Vec<u32> = names_in(SHM)
        .into_iter()
        .chain(names_in(&temp.to_string_lossy()))
        .filter_map(|name| name.strip_prefix(TAG)?.split('-').next()?.parse().ok())
        .collect();
    runs.sort_unstable();
    runs.dedup();
    for run in runs {
        let pid = nix::unistd::Pid::from_raw(run as i32);
        if nix::sys::signal::kill(pid, None) == Err(nix::errno::Errno::ESRCH) {
            // A helper of that run may still be on its way out: then a later run
            // removes the domain. Nothing to report meanwhile.
            let _ = remove(run);
        }
    }
}

/// Tells the book's leak check (`SHMBOOK_NAME_LOG`) every entry run `run`'s domain has
/// in `/dev/shm` now, so that one left behind would fail the test suite.
pub fn log_names(run: u32) {
    for name in names_in(SHM) {
        if name.starts_with(&prefix(run)) {
            shmbook::names::log_if_asked(&name);
        }
    }
}

/// The names of the entries of directory `dir` (none if it cannot be read).
fn names_in(dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}
