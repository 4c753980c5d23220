//! Guards that remove a segment on every way out of a function.
//!
//! `shared_memory` removes a segment when the *owner's* `Shmem` is dropped. That covers
//! most cases, but not all: a segment whose owner gave up ownership, one created by a
//! helper process that was killed, or one made with raw system calls. [`Unlink`] covers
//! those: it removes the name when it goes out of scope — on success, on an early `?`
//! return and while a panic unwinds.

use crate::os;

/// Removes the segment `name` when dropped, unless [`Unlink::disarm`] was called.
#[must_use = "the segment is removed when this guard is dropped"]
pub struct Unlink {
    name: Option<String>,
}

impl Unlink {
    /// Guards `name`. The segment need not exist yet, and may be gone by the time
    /// the guard drops: a missing segment is not an error.
    pub fn new(name: impl Into<String>) -> Self {
        Unlink {
            name: Some(name.into()),
        }
    }

    /// Keeps the segment: the guard no longer removes it.
    pub fn disarm(mut self) {
        self.name = None;
    }
}

impl Drop for Unlink {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            // A segment that is already gone is what we want; other errors cannot be
            // reported from a destructor, and a leftover shows up in the tests' check.
            let _ = os::shm_unlink(&name);
        }
    }
}
