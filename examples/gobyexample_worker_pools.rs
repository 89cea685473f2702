//! Go by Example: Worker Pools — the same program as `cargo run --example tour -- gobyexample_worker_pools`, as an example of its
//! own. The port, with the Go original at its top, is `examples/tour/gobyexample_worker_pools.rs`.
//! `GORUN_TOUR_FAST=1` shortens its sleeps.

#[macro_use]
#[path = "tour/common.rs"]
mod common;

#[path = "tour/gobyexample_worker_pools.rs"]
mod lesson;

fn main() {
    lesson::main();
}
