//! The first goroutine: go hello(); time.Sleep — the same program as `cargo run --example tour -- lesson_hello_goroutine`, as an example of its
//! own. The port, with the Go original at its top, is `examples/tour/lesson_hello_goroutine.rs`.
//! `GORUN_TOUR_FAST=1` shortens its sleeps.

#[macro_use]
#[path = "tour/common.rs"]
mod common;

#[path = "tour/lesson_hello_goroutine.rs"]
mod lesson;

fn main() {
    lesson::main();
}
