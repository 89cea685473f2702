//! Go's channels: [`chan()`], [`Chan`], [`Sender`], [`Receiver`], and the [`select!`](crate::select)
//! macro.
//!
//! A channel of capacity 0 is a rendezvous: a send completes only when a receiver has taken
//! the value. A channel of capacity `n > 0` buffers up to `n` values in FIFO order. `close`
//! wakes everyone; receivers then drain the buffer and get `None`; sends fail with their value.
//! Every future here is cancel-safe: dropping a pending `send`, `recv` or `select!` at any
//! moment never loses, duplicates or reorders a message (see `chan.rs` and `state.rs` for
//! the protocol). Channels are plain futures with wakers: they work on gorun's runtime, on any
//! other executor, and from plain threads through the `*_blocking` methods.
//!
//! ```
//! use gorun::chan::chan;
//!
//! let c = chan::<u32>(0);
//! let tx = c.sender();
//! let producer = std::thread::spawn(move || {
//!     for i in 0..3 {
//!         tx.send_blocking(i).unwrap();
//!     }
//!     tx.close();
//! });
//! let mut got = vec![];
//! while let Some(v) = c.recv_blocking() {
//!     got.push(v);
//! }
//! assert_eq!(got, [0, 1, 2]);
//! producer.join().unwrap();
//! ```

mod buf;
#[allow(clippy::module_inception)]
mod chan;
mod error;
mod handles;
mod select;
mod select_case;
#[cfg(all(test, not(loom)))]
mod select_cell_tests;
#[cfg(all(test, not(loom)))]
mod select_hint_tests;
mod select_macro;
mod select_ops;
mod state;
mod waiter;

#[cfg(all(test, loom))]
mod loom_tests;

pub use chan::{RecvFuture, SendFuture};
pub use error::{SendError, TryRecvError, TrySendError};
pub(crate) use handles::WeakChan;
pub use handles::{chan, Chan, Receiver, Sender};

/// Helpers the `select!` macro expands to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use super::select::{never, select, Never, Select};
    pub use super::select_case::{
        recv_case, send_case, ClaimCell, RecvCase, RegOutcome, SelectCase, SelectRecv, SelectSend,
        SendCase,
    };
}
