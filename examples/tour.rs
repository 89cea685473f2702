//! The gorun tour: the classic Go concurrency programs — the first goroutine lessons, Go by
//! Example's concurrency section, and chapter 8 of "The Go Programming Language" — ported to
//! gorun, run one after another.
//!
//! ```text
//! cargo run --release --example tour                  # every lesson
//! GORUN_TOUR_FAST=1 cargo run --release --example tour   # sleeps shortened tenfold
//! cargo run --release --example tour -- worker_pools  # the lessons whose name contains it
//! cargo run --release --example tour -- gopl_du /usr  # arguments after the name go to the lesson
//! cargo run --release --example tour -- --list
//! ```
//!
//! Each lesson lives in `examples/tour/NAME.rs`: the Go original at the top, then the port.

#[allow(dead_code)]
#[path = "tour/mod.rs"]
mod lessons;

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let filter = args.next().unwrap_or_default();
    if filter == "--list" || filter == "-l" {
        for l in lessons::LESSONS {
            println!("{:38} {}", l.name, l.title);
        }
        return;
    }
    lessons::common::set_args(args.collect());
    // An exact name runs that lesson alone; otherwise every lesson whose name contains it.
    let selected: Vec<_> = match lessons::LESSONS.iter().find(|l| l.name == filter) {
        Some(l) => {
            // Alone, a lesson that reads standard input reads the real one.
            lessons::common::set_interactive(true);
            vec![l]
        }
        None => lessons::matching(&filter).collect(),
    };
    if selected.is_empty() {
        eprintln!("tour: no lesson matches {filter:?} (try --list)");
        std::process::exit(2);
    }
    let start = Instant::now();
    for (i, l) in selected.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("=== {}: {}", l.name, l.title);
        (l.main)();
    }
    println!(
        "\n=== {} lesson{} in {:.1?}{}",
        selected.len(),
        if selected.len() == 1 { "" } else { "s" },
        start.elapsed(),
        if lessons::common::fast() {
            " (GORUN_TOUR_FAST=1)"
        } else {
            ""
        }
    );
}
