//! `gorun::sync`: see the crate docs.
