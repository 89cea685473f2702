//! `gorun::chan`: see the crate docs.
