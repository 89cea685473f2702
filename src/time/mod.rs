//! `gorun::time`: see the crate docs.
