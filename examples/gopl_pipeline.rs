//! The Go Programming Language 8.4: pipeline (counter, squarer, printer) — the same program as `cargo run --example tour -- gopl_pipeline`, as an example of its
//! own. The port, with the Go original at its top, is `examples/tour/gopl_pipeline.rs`.
//! `GORUN_TOUR_FAST=1` shortens its sleeps.

#[macro_use]
#[path = "tour/common.rs"]
mod common;

#[path = "tour/gopl_pipeline.rs"]
mod lesson;

fn main() {
    lesson::main();
}
