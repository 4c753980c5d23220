//! Nothing a grader run makes outlives it: every segment and semaphore of a run is
//! named `/shmgrade-<RUN>-...` (RUN is the grader's process id), and each run holds a
//! lock in a directory of its own (`$TMPDIR/shmbook-grade-<RUN>/`, which also holds the
//! private copy of the grader its checks run from). The grader removes its run's names
//! after every check; a later run removes those of runs whose lock nobody holds any
//! more (a grader that was itself killed could not).

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::kit::RUN_PREFIX;

const DIR_PREFIX: &str = "shmbook-grade-";

/// This run's directory and the lock that says the run is alive.
pub struct RunDir {
    pub dir: PathBuf,
    _lock: Flock<File>,
}

impl RunDir {
    /// Removes what dead runs left, then makes this run's directory and takes its lock.
    pub fn make(run: &str) -> std::io::Result<RunDir> {
        let temp = std::env::temp_dir();
        sweep_dead(&temp);
        let dir = temp.join(format!("{DIR_PREFIX}{run}"));
        let _ = std::fs::remove_dir_all(&dir); // a dead run with our process id
                                               // Made under another name and renamed when locked: a run that sweeps meanwhile
                                               // never sees this run's lock free.
        let making = temp.join(format!(".{DIR_PREFIX}{run}"));
        let _ = std::fs::remove_dir_all(&making);
        std::fs::create_dir(&making)?;
        let file = File::create(making.join("lock"))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| std::io::Error::from(e))?;
        std::fs::rename(&making, &dir)?;
        Ok(RunDir { dir, _lock: lock })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The runs in `temp` whose lock can be taken: their grader is gone.
fn sweep_dead(temp: &Path) {
    for entry in std::fs::read_dir(temp).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = file.strip_prefix(DIR_PREFIX) else {
            continue;
        };
        let Ok(lock) = File::open(entry.path().join("lock")) else {
            continue;
        };
        if Flock::lock(lock, FlockArg::LockExclusiveNonblock).is_ok() {
            sweep_run(run);
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes every entry of run `run` from /dev/shm (segments, and `sem.NAME` semaphores).
pub fn sweep_run(run: &str) {
    let prefix = format!("{}{run}-", RUN_PREFIX.trim_start_matches('/'));
    for entry in std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file
            .strip_prefix("sem.")
            .unwrap_or(&file)
            .starts_with(&prefix)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
