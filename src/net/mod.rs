//! `gorun::net`: see the crate docs.
