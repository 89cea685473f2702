//! `runtime::dump()`: a listing of every live goroutine, like Go's SIGQUIT traceback.

use super::task::{TaskInfo, STATE_RUNNABLE, STATE_RUNNING, STATE_WAITING};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Every live goroutine of the current runtime (or the global one): its id, where it was
/// spawned, and what it is doing.
///
/// ```
/// gorun::block_on(async {
///     let h = gorun::go(std::future::pending::<()>());
///     let entry = format!("goroutine {} [waiting]", h.id());
///     // Once it has started waiting, it is listed with where it was spawned.
///     let mut tries = 0;
///     while !gorun::runtime::dump().contains(&entry) {
///         tries += 1;
///         assert!(tries < 100_000, "never listed");
///         gorun::yield_now().await;
///     }
///     h.abort();
/// });
/// ```
pub fn dump() -> String {
    dump_shared(&super::current_or_global().shared)
}

pub(crate) fn dump_shared(shared: &super::scheduler::Shared) -> String {
    let waiting = shared.registry.snapshot();
    let mut out = format_tasks(&waiting, shared.main_goroutine.load(Relaxed));
    let others = shared.live_count().saturating_sub(waiting.len());
    if others > 0 {
        let _ = writeln!(
            out,
            "({others} more goroutines are runnable, running or in go_blocking and have not \
             waited yet)"
        );
    }
    out
}

/// One entry per goroutine; goroutine `main` (0: none) is marked `[main]`.
pub(crate) fn format_tasks(tasks: &[TaskInfo], main: u64) -> String {
    let mut out = String::new();
    for t in tasks {
        let state = match (t.blocking, t.state) {
            (true, STATE_RUNNING) => "syscall (go_blocking)",
            (true, _) => "runnable (go_blocking, queued)",
            (false, STATE_RUNNABLE) => "runnable",
            (false, STATE_RUNNING) => "running",
            (false, STATE_WAITING) => super::Wait::from_u8(t.wait).describe(),
            _ => "unknown",
        };
        let main = if t.id == main { " [main]" } else { "" };
        let _ = match t.location {
            Some(l) => writeln!(
                out,
                "goroutine {}{main} [{state}]:\n\tcreated at {}:{}:{}\n",
                t.id,
                l.file(),
                l.line(),
                l.column()
            ),
            None => writeln!(out, "goroutine {}{main} [{state}]:\n\tcreated at ?\n", t.id),
        };
    }
    out
}
