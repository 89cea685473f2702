//! Go's `os/signal`: receive Unix signals on a channel.
//!
//! [`notify`] returns a [`Receiver`] on which each listed signal arrives as a [`Signal`]; it
//! works in [`select!`](crate::select) like any channel. [`ctrl_c`] is a future for the next
//! `SIGINT`. [`stop`] ends delivery to a receiver.
//!
//! ```no_run
//! use gorun::prelude::*;
//! use gorun::signal::{self, Signal};
//!
//! #[gorun::main]
//! async fn main() {
//!     let sigs = signal::notify(&[Signal::Interrupt, Signal::Terminate]);
//!     let done = chan::<()>(0);
//!     select! {
//!         recv(sigs) -> s => println!("got {}", s.unwrap()),
//!         recv(done) -> _ => {}
//!     }
//! }
//! ```
//!
//! # How it works
//!
//! The first `notify` for a signal installs gorun's handler for it (the one that also serves
//! the `SIGQUIT` goroutine dump, `src/runtime/signal.rs`): the handler only records the
//! signal and writes a byte to a self-pipe; the `gorun-signal` thread reads the pipe and makes
//! a non-blocking send of the signal on every channel registered for it. As in Go, a channel
//! whose buffer is full misses the signal (each channel here has a buffer of one, the size
//! Go's documentation recommends), and equal signals arriving together may be delivered once.
//! A handler installed for the signal before gorun's (by another library) is still called:
//! gorun's handler chains to it. When the last receiver of a signal is [`stop`]ped, the earlier
//! handler (or the default action) is restored.
//!
//! While any receiver is registered, deadlock detection treats the signal thread as a possible
//! waker (`main` waiting for Ctrl-C is not a deadlock).

use crate::chan::{chan, Receiver, Sender};
use crate::loom::Unpoison;
use crate::runtime::signal as sys;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Mutex;

/// A signal that [`notify`] can deliver.
///
/// ```
/// use gorun::signal::Signal;
/// assert_eq!(Signal::Interrupt.to_string(), "interrupt"); // Go's os.Interrupt.String()
/// assert_eq!(Signal::Interrupt.number(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGINT`: Ctrl-C in a terminal (Go's `os.Interrupt`).
    Interrupt,
    /// `SIGTERM`: the polite request to stop (`kill PID`, a service manager).
    Terminate,
    /// `SIGHUP`: the terminal went away, or "reload your configuration".
    Hangup,
    /// `SIGUSR1`.
    User1,
    /// `SIGUSR2`.
    User2,
}

impl Signal {
    const ALL: [Signal; 5] = [
        Signal::Interrupt,
        Signal::Terminate,
        Signal::Hangup,
        Signal::User1,
        Signal::User2,
    ];

    /// The signal's number (`SIGINT` is 2).
    ///
    /// ```
    /// assert_eq!(gorun::signal::Signal::Terminate.number(), 15);
    /// ```
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Hangup => libc::SIGHUP,
            Signal::User1 => libc::SIGUSR1,
            Signal::User2 => libc::SIGUSR2,
        }
    }

    fn from_number(n: i32) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.number() == n)
    }
}

impl fmt::Display for Signal {
    /// Go's names (`syscall.Signal.String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "interrupt",
            Signal::Terminate => "terminated",
            Signal::Hangup => "hangup",
            Signal::User1 => "user defined signal 1",
            Signal::User2 => "user defined signal 2",
        })
    }
}

struct Watch {
    tx: Sender<Signal>,
    /// Bit `n` set: signal number `n` is delivered here.
    mask: u64,
}

/// Every registered channel. Lock order: this, then the runtime's `SAVED` handlers.
static WATCHES: Mutex<Vec<Watch>> = Mutex::new(Vec::new());

fn watches() -> std::sync::MutexGuard<'static, Vec<Watch>> {
    WATCHES.lock().unpoison()
}

/// Called by the signal thread for each signal caught: a non-blocking send on every channel
/// registered for it (a full channel misses it, as in Go).
pub(crate) fn deliver(sig: i32) {
    let Some(s) = Signal::from_number(sig) else {
        return;
    };
    for w in watches().iter() {
        if w.mask & (1 << sig) != 0 {
            let _ = w.tx.try_send(s);
        }
    }
}

/// Like [`notify`], with the error instead of a panic.
fn try_notify(signals: &[Signal]) -> io::Result<Receiver<Signal>> {
    let signals: &[Signal] = if signals.is_empty() {
        &Signal::ALL
    } else {
        signals
    };
    let c = chan::<Signal>(1);
    let mask = signals.iter().fold(0u64, |m, s| m | 1 << s.number());
    let mut all = watches();
    sys::set_delivery(deliver);
    for s in signals {
        if let Err(e) = sys::install(s.number()) {
            // Put back the handlers installed for this call that nobody else watches.
            let still = all.iter().fold(0u64, |m, w| m | w.mask);
            for s in signals {
                if still & (1 << s.number()) == 0 {
                    sys::uninstall(s.number());
                }
            }
            return Err(e);
        }
    }
    all.push(Watch {
        tx: c.sender(),
        mask,
    });
    sys::WATCHERS.store(all.len(), SeqCst);
    Ok(c.receiver())
}

/// Delivers the listed signals (all five when `signals` is empty, as Go's `signal.Notify(c)`)
/// to the returned channel, replacing their default action (a `SIGINT` no longer ends the
/// process). Go's `signal.Notify(c, sigs...)`, with the channel (buffer 1) made for you.
///
/// # Panics
/// If the signal thread or handler cannot be set up (out of file descriptors or threads).
///
/// ```
/// use gorun::signal::{self, Signal};
/// let sigs = signal::notify(&[Signal::User1]);
/// // Send ourselves SIGUSR1.
/// std::process::Command::new("kill")
///     .args(["-USR1", &std::process::id().to_string()])
///     .status()
///     .unwrap();
/// assert_eq!(sigs.recv_blocking(), Some(Signal::User1));
/// signal::stop(&sigs);
/// ```
#[track_caller]
pub fn notify(signals: &[Signal]) -> Receiver<Signal> {
    match try_notify(signals) {
        Ok(rx) => rx,
        Err(e) => panic!("gorun::signal::notify: cannot handle {signals:?}: {e}"),
    }
}

/// Stops delivering signals to `receiver` (Go's `signal.Stop`): once it returns, no more
/// signals arrive there. A signal no channel is registered for any more gets its earlier
/// handler (usually the default action) back. A receiver not from [`notify`] is ignored.
///
/// ```
/// use gorun::signal::{self, Signal};
/// let sigs = signal::notify(&[Signal::Hangup]);
/// signal::stop(&sigs);
/// assert!(sigs.try_recv().is_err());
/// ```
pub fn stop(receiver: &Receiver<Signal>) {
    let mut all = watches();
    let Some(rx) = receiver.inner() else {
        return;
    };
    all.retain(|w| !w.tx.inner().is_some_and(|tx| std::ptr::eq(tx, rx)));
    sys::WATCHERS.store(all.len(), SeqCst);
    let still = all.iter().fold(0u64, |m, w| m | w.mask);
    for s in Signal::ALL {
        if still & (1 << s.number()) == 0 {
            sys::uninstall(s.number());
        }
    }
}

/// Stops its receiver when dropped.
struct StopOnDrop(Receiver<Signal>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        stop(&self.0);
    }
}

/// A future that completes at the next Ctrl-C (`SIGINT`) after this call, like tokio's
/// `signal::ctrl_c`. The handler is in place when `ctrl_c` returns, so a Ctrl-C arriving before
/// the first poll is not missed; dropping the future stops listening. Errors if the signal
/// handler cannot be set up.
///
/// ```
/// # gorun::block_on(async {
/// let ctrl_c = gorun::signal::ctrl_c();
/// std::process::Command::new("kill")
///     .args(["-INT", &std::process::id().to_string()])
///     .status()
///     .unwrap();
/// ctrl_c.await.unwrap();
/// # });
/// ```
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + 'static {
    let watch = try_notify(&[Signal::Interrupt]).map(StopOnDrop);
    async move {
        let watch = watch?;
        watch.0.recv().await;
        Ok(())
    }
}
