//! The loom copies of the atomics exercises (written by `build.rs` from the student's
//! files), and the models the checks run on them.
//!
//! loom runs a closure again and again, once for each way its threads can interleave
//! and each value a load may see under the memory model, and reports the first run
//! whose assertion fails. A flag stored with `Relaxed`, or a ring index advanced before
//! its slot is written, passes on x86 most of the time; under loom it fails every time.

#[allow(
    dead_code,
    unused_imports,
    unused_variables,
    unreachable_code,
    clippy::all
)]
pub mod arrays_ready {
    include!(concat!(env!("OUT_DIR"), "/loom_arrays_ready.rs"));
}

#[allow(
    dead_code,
    unused_imports,
    unused_variables,
    unreachable_code,
    clippy::all
)]
pub mod alternatives_ring {
    include!(concat!(env!("OUT_DIR"), "/loom_alternatives_ring.rs"));
}

/// Runs `model` under loom with a bound on preemptions that keeps a check to seconds
/// (every bug of these exercises needs at most two); returns the first failing run's
/// panic message.
pub fn check(model: impl Fn() + Sync + Send + 'static) -> Result<(), String> {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(1);
    // loom prints the failing run's panic through the panic hook; the message is
    // what the check reports.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = crate::kit::catch(move || builder.check(model));
    std::panic::set_hook(hook);
    result
}
