//! `gorun::time`: sleeping, timers, tickers and timeouts, as in Go's `time` package.
//!
//! Every timer lives in its runtime's hierarchical timer wheel (1 ms resolution), driven by the
//! worker that parks. [`after()`], [`tick`], [`Timer`] and [`Ticker`] deliver on channels, so they
//! work in `select!`. Used outside a runtime they run on the global runtime's reactor.
//!
//! ```
//! use gorun::time::{sleep, timeout, Duration};
//! futures::executor::block_on(async {
//!     sleep(Duration::from_millis(1)).await;
//!     assert!(timeout(Duration::from_millis(1), std::future::pending::<()>()).await.is_err());
//! });
//! ```

mod after;
pub(crate) mod sleep;
mod ticker;
mod timeout;
mod timer;
mod timer_chan;

pub use after::after;
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::{Duration, Instant};
pub use ticker::{tick, Ticker};
pub use timeout::{timeout, Elapsed, Timeout};
pub use timer::{after_func, Timer};
