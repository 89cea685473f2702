//! `runtime::dump()`: a listing of every live goroutine, like Go's SIGQUIT traceback.

use super::task::{TaskInfo, STATE_RUNNABLE, STATE_RUNNING, STATE_WAITING};
use std::fmt::Write;

/// Every live goroutine of the current runtime (or the global one): its id, where it was
/// spawned, and what it is doing.
///
/// ```
/// gorun::block_on(async {
///     let h = gorun::go(std::future::pending::<()>());
///     let d = gorun::runtime::dump();
///     assert!(d.contains(&format!("goroutine {} [", h.id())), "{d}");
///     h.abort();
/// });
/// ```
pub fn dump() -> String {
    let handle = super::current_or_global();
    format_tasks(&handle.shared.registry.snapshot())
}

pub(crate) fn format_tasks(tasks: &[TaskInfo]) -> String {
    let mut out = String::new();
    for t in tasks {
        let state = match (t.blocking, t.state) {
            (true, STATE_RUNNING) => "syscall (go_blocking)",
            (true, _) => "runnable (go_blocking, queued)",
            (false, STATE_RUNNABLE) => "runnable",
            (false, STATE_RUNNING) => "running",
            (false, STATE_WAITING) => "waiting",
            _ => "unknown",
        };
        let _ = writeln!(
            out,
            "goroutine {} [{state}]:\n\tcreated at {}:{}:{}\n",
            t.id,
            t.location.file(),
            t.location.line(),
            t.location.column()
        );
    }
    out
}
