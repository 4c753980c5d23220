//! The ways the counter's helpers add: the enum behind `--variant`.

use clap::ValueEnum;

// ANCHOR: variants
/// The ways to make two processes add to one counter.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Variant {
    /// No synchronization: a relaxed load, then a store. Defined behaviour, lost updates.
    Racy = 1,
    /// A `raw_sync` mutex taken and released around every single addition.
    Mutex,
    /// The seeds' shape: the semaphore taken once and held for the whole loop.
    Held,
    /// A process-shared POSIX semaphore taken and released around every addition.
    Sem,
    /// One atomic read-modify-write per addition: `fetch_add`.
    Atomic,
    /// Count in a local variable; add the total to the shared counter once.
    Local,
}
// ANCHOR_END: variants

impl Variant {
    /// The variant a segment's header names (its number), if any.
    pub fn from_kind(kind: u32) -> Option<Variant> {
        Variant::value_variants()
            .iter()
            .copied()
            .find(|v| *v as u32 == kind)
    }

    pub fn word(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |p| p.get_name().to_string())
    }

    pub fn label(self) -> &'static str {
        match self {
            Variant::Racy => "no lock (load, then store)",
            Variant::Mutex => "raw_sync Mutex per addition",
            Variant::Held => "semaphore held for the loop",
            Variant::Sem => "semaphore per addition",
            Variant::Atomic => "AtomicU64::fetch_add",
            Variant::Local => "local count, added once",
        }
    }
}
