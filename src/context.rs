//! `gorun::context`: see the crate docs.
