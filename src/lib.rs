//! gorun: Go's concurrency for Rust.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub(crate) mod loom;
pub(crate) mod rand;
pub(crate) mod reactor;

pub mod chan;
pub mod context;
pub mod errgroup;
pub mod net;
pub mod runtime;
pub mod sync;
pub mod time;

pub use runtime::scaffold::{go, go_blocking};
