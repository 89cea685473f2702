//! `gorun::errgroup`: see the crate docs.
