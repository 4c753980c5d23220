//! `raw_sync` errors into `anyhow`.
//!
//! `raw_sync` returns `Box<dyn std::error::Error>`, which is neither `Send` nor `Sync`,
//! so `?` cannot turn it into an `anyhow::Error`. [`SyncContext::sync_context`] does the
//! conversion and adds the context a reader needs:
//!
//! ```
//! use shmbook::sync::SyncContext;
//! fn lock_it(r: Result<(), Box<dyn std::error::Error>>) -> anyhow::Result<()> {
//!     r.sync_context("locking the counter's mutex")
//! }
//! let e = lock_it(Err("Invalid argument".into())).unwrap_err();
//! assert_eq!(format!("{e:#}"), "locking the counter's mutex: Invalid argument");
//! ```

use std::error::Error;

/// Adds context to a `raw_sync` result and makes it an `anyhow::Result`.
pub trait SyncContext<T> {
    /// `what` says what was being done, e.g. "creating the mutex".
    fn sync_context(self, what: &str) -> anyhow::Result<T>;
}

impl<T> SyncContext<T> for Result<T, Box<dyn Error>> {
    fn sync_context(self, what: &str) -> anyhow::Result<T> {
        // The boxed error cannot cross into anyhow as a source; its message can.
        self.map_err(|e| anyhow::anyhow!("{e}").context(what.to_string()))
    }
}
