//! The tour's lessons: one module per classic Go concurrency program, each with the Go
//! original's shape in its header and a `#[gorun::main] pub async fn main()` that prints what
//! the Go program prints. `examples/tour.rs` runs them; `tests/examples.rs` checks them.
//!
//! Every lesson's `main` starts a fresh runtime and drops it when it returns, so goroutines
//! still running at the end die with it — exactly what happens when Go's `main` returns.

#[macro_use]
pub mod common;

pub mod lesson_anonymous_goroutine;
pub mod lesson_count_sheep_fish;
pub mod lesson_goroutine_args;
pub mod lesson_hello_goroutine;
pub mod lesson_panic_recover;
pub mod lesson_parallel_sleep;
pub mod lesson_print_count;
pub mod lesson_producer_close;
pub mod lesson_send_data;
pub mod lesson_workers_defer;

pub mod gobyexample_atomic_counters;
pub mod gobyexample_channel_buffering;
pub mod gobyexample_channel_directions;
pub mod gobyexample_channel_synchronization;
pub mod gobyexample_channels;
pub mod gobyexample_closing_channels;
pub mod gobyexample_context;
pub mod gobyexample_goroutines;
pub mod gobyexample_mutexes;
pub mod gobyexample_non_blocking;
pub mod gobyexample_range_over_channels;
pub mod gobyexample_rate_limiting;
pub mod gobyexample_select;
pub mod gobyexample_stateful_goroutines;
pub mod gobyexample_tickers;
pub mod gobyexample_timeouts;
pub mod gobyexample_timers;
pub mod gobyexample_waitgroups;
pub mod gobyexample_worker_pools;

pub mod gopl_chat_client;
pub mod gopl_crawl;
pub mod gopl_du;
pub mod gopl_netcat;
pub mod gopl_pipeline;
pub mod gopl_spinner;

/// One lesson of the tour.
pub struct Lesson {
    /// The module name, which the tour's filter matches.
    pub name: &'static str,
    /// Where the Go original comes from.
    pub title: &'static str,
    /// The lesson's program: starts its own runtime, returns when the Go `main` would.
    pub main: fn(),
}

macro_rules! lessons {
    ($($name:ident: $title:expr,)*) => {
        /// Every lesson, in tour order.
        pub const LESSONS: &[Lesson] = &[$(Lesson { name: stringify!($name), title: $title, main: $name::main },)*];
    };
}

lessons! {
    lesson_hello_goroutine: "Hello goroutine: go hello(); time.Sleep",
    lesson_anonymous_goroutine: "An anonymous goroutine: go func() { ... }()",
    lesson_goroutine_args: "Goroutines with arguments: go func(n int) { ... }(i)",
    lesson_print_count: "printCount: a WaitGroup and a channel drained by range",
    lesson_count_sheep_fish: "count(\"sheep\") and count(\"fish\") at once",
    lesson_producer_close: "A producer closes its channel; the consumer reads v, ok",
    lesson_workers_defer: "Workers with defer wg.Done()",
    lesson_send_data: "sendData and getData over one channel",
    lesson_parallel_sleep: "Five tasks sleep a second each, in parallel",
    lesson_panic_recover: "A goroutine panics; recover",
    gobyexample_goroutines: "Go by Example: Goroutines",
    gobyexample_channels: "Go by Example: Channels",
    gobyexample_channel_buffering: "Go by Example: Channel Buffering",
    gobyexample_channel_synchronization: "Go by Example: Channel Synchronization",
    gobyexample_channel_directions: "Go by Example: Channel Directions",
    gobyexample_select: "Go by Example: Select",
    gobyexample_timeouts: "Go by Example: Timeouts",
    gobyexample_non_blocking: "Go by Example: Non-Blocking Channel Operations",
    gobyexample_closing_channels: "Go by Example: Closing Channels",
    gobyexample_range_over_channels: "Go by Example: Range over Channels",
    gobyexample_timers: "Go by Example: Timers",
    gobyexample_tickers: "Go by Example: Tickers",
    gobyexample_worker_pools: "Go by Example: Worker Pools",
    gobyexample_waitgroups: "Go by Example: WaitGroups",
    gobyexample_rate_limiting: "Go by Example: Rate Limiting",
    gobyexample_atomic_counters: "Go by Example: Atomic Counters",
    gobyexample_mutexes: "Go by Example: Mutexes",
    gobyexample_stateful_goroutines: "Go by Example: Stateful Goroutines",
    gobyexample_context: "Go by Example: Context",
    gopl_spinner: "The Go Programming Language 8.1: spinner",
    gopl_pipeline: "The Go Programming Language 8.4: pipeline (counter, squarer, printer)",
    gopl_du: "The Go Programming Language 8.8: du, a concurrent directory walker",
    gopl_crawl: "The Go Programming Language 8.6: crawl with bounded parallelism",
    gopl_netcat: "The Go Programming Language 8.3/8.4.1: netcat3 against the reverb server",
    gopl_chat_client: "The Go Programming Language 8.10: a chat client (netcat3) and server",
}

/// The lessons whose name contains `filter` (all of them for an empty filter).
pub fn matching(filter: &str) -> impl Iterator<Item = &'static Lesson> + '_ {
    LESSONS.iter().filter(move |l| l.name.contains(filter))
}
