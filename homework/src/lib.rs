//! The book's exercises. Each module is one exercise: its comment says what to do, and
//! every `todo!()` is a place to write code. Check your work with
//!
//! ```text
//! cargo run -p grade                      # all exercises
//! cargo run -p grade -- sizing_pages      # one exercise
//! ```
//!
//! The files here are generated from the reference solutions (`solutions/`, which an
//! instructor may leave out of the hand-out) by `cargo run -p grade -- starter`: edit
//! them freely in your copy, but in the book's repository change `solutions/` instead.

// The starter code leaves parameters, imports and fields unused until you write the
// bodies; the solutions are checked without these allowances.
#![cfg_attr(
    not(feature = "solutions"),
    allow(unused_variables, unused_imports, dead_code, unreachable_code)
)]

#[cfg_attr(feature = "solutions", path = "../../solutions/segments_open.rs")]
pub mod segments_open;
#[cfg_attr(feature = "solutions", path = "../../solutions/segments_sweep.rs")]
pub mod segments_sweep;
#[cfg_attr(feature = "solutions", path = "../../solutions/segments_unlink.rs")]
pub mod segments_unlink;

#[cfg_attr(feature = "solutions", path = "../../solutions/sizing_pages.rs")]
pub mod sizing_pages;
#[cfg_attr(feature = "solutions", path = "../../solutions/sizing_reserved.rs")]
pub mod sizing_reserved;
#[cfg_attr(feature = "solutions", path = "../../solutions/sizing_room.rs")]
pub mod sizing_room;

#[cfg_attr(feature = "solutions", path = "../../solutions/arrays_header.rs")]
pub mod arrays_header;
#[cfg_attr(feature = "solutions", path = "../../solutions/arrays_ready.rs")]
pub mod arrays_ready;
#[cfg_attr(feature = "solutions", path = "../../solutions/arrays_split.rs")]
pub mod arrays_split;

#[cfg_attr(feature = "solutions", path = "../../solutions/semaphores_counter.rs")]
pub mod semaphores_counter;
#[cfg_attr(feature = "solutions", path = "../../solutions/semaphores_counting.rs")]
pub mod semaphores_counting;
#[cfg_attr(feature = "solutions", path = "../../solutions/semaphores_robust.rs")]
pub mod semaphores_robust;

#[cfg_attr(feature = "solutions", path = "../../solutions/alternatives_frames.rs")]
pub mod alternatives_frames;
#[cfg_attr(feature = "solutions", path = "../../solutions/alternatives_ring.rs")]
pub mod alternatives_ring;

// The chapter's third exercise, a group of its own so that rustfmt keeps the book's
// order (it sorts the modules of a group).
#[cfg_attr(
    feature = "solutions",
    path = "../../solutions/alternatives_latency.rs"
)]
pub mod alternatives_latency;
