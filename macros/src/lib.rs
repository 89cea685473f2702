//! `#[gorun::main]` and `#[gorun::test]`.
