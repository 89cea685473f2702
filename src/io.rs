//! The process's standard streams as async streams: [`stdin`] (`AsyncRead` and `AsyncBufRead`,
//! so `.lines()` reads line by line as Go's `bufio.Scanner` does), [`stdout`] and [`stderr`]
//! (`AsyncWrite`), with the `futures::io` traits re-exported here and in the prelude.
//!
//! ```no_run
//! use gorun::prelude::*;
//!
//! #[gorun::main]
//! async fn main() {
//!     // input := bufio.NewScanner(os.Stdin); for input.Scan() { ... input.Text() }
//!     let mut lines = gorun::io::stdin().lines();
//!     let mut out = gorun::io::stdout();
//!     while let Some(line) = lines.next().await {
//!         let line = line.unwrap();
//!         out.write_all(format!("{}\n", line.to_uppercase()).as_bytes()).await.unwrap();
//!     }
//! }
//! ```
//!
//! # How stdin works
//!
//! Standard input may be a terminal, a pipe or a regular file, and the descriptor is shared
//! with other processes, so gorun does not switch it to non-blocking mode. One thread
//! (`gorun-stdin`, started by the first read) does blocking reads on demand: it reads only
//! while some [`Stdin`] is waiting for data, so bytes are never taken from standard input
//! that nobody asked for. What it reads goes to one process-wide buffer shared by every
//! [`Stdin`] handle (as Go's `os.Stdin` is one file), and wakes the waiting readers. A handle
//! dropped with buffered bytes it has not consumed gives them back to the front of that
//! buffer: nothing read is ever lost. End of input is reported once per time the thread finds
//! it (a terminal's Ctrl-D; reading on asks again).
//!
//! While a reader waits for the thread, deadlock detection stays quiet (a program waiting for
//! input is not deadlocked).
//!
//! # stdout and stderr
//!
//! Writes go through std's handles (`std::io::stdout`'s line buffer; stderr unbuffered), from
//! the writing goroutine's thread, as a Go `Write` on `os.Stdout` is a direct system call.
//! A terminal or pipe that is not drained stalls that worker while it is full.

pub use futures::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};

use crate::loom::Unpoison;
// Set while a reader waits for the stdin thread (see the module docs): deadlock detection
// stays quiet. The runtime, below `io`, owns the flag, since its deadlock check reads it.
use crate::runtime::deadlock::STDIN_READING as READING;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

/// How much one read of the stdin thread asks for.
const CHUNK: usize = 8 * 1024;

struct State {
    /// Bytes read and not yet taken by a handle.
    buf: VecDeque<u8>,
    /// The thread found end of input (or an error) that no reader has taken yet.
    eof: bool,
    err: Option<io::Error>,
    /// A reader is waiting: the thread should read.
    wanted: bool,
    waiters: Vec<Waker>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when `wanted` becomes true.
    want: Condvar,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared {
        state: Mutex::new(State {
            buf: VecDeque::new(),
            eof: false,
            err: None,
            wanted: false,
            waiters: Vec::new(),
        }),
        want: Condvar::new(),
    })
}

fn lock() -> MutexGuard<'static, State> {
    shared().state.lock().unpoison()
}

/// Starts the stdin thread once. Errors (no thread could be started) come back to the reader.
fn start_thread() -> io::Result<()> {
    static STARTED: OnceLock<Result<(), io::ErrorKind>> = OnceLock::new();
    let r = STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("gorun-stdin".into())
            .spawn(stdin_thread)
            .map(drop)
            .map_err(|e| e.kind())
    });
    r.map_err(|k| io::Error::new(k, "gorun: cannot start the stdin thread"))
}

fn stdin_thread() {
    // One of gorun's threads: it wakes goroutines only while `READING`, which the deadlock
    // check looks at itself.
    let _ours = crate::runtime::deadlock::gorun_thread();
    let sh = shared();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        {
            let mut st = lock();
            while !st.wanted {
                st = sh.want.wait(st).unpoison();
            }
        }
        let r = loop {
            match io::stdin().lock().read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        let mut st = lock();
        match r {
            Ok(0) => st.eof = true,
            Ok(n) => st.buf.extend(&chunk[..n]),
            Err(e) => st.err = Some(e),
        }
        st.wanted = false;
        READING.store(false, SeqCst);
        let waiters = std::mem::take(&mut st.waiters);
        drop(st);
        for w in waiters {
            w.wake();
        }
    }
}

/// A handle to the process's standard input, from [`stdin`].
///
/// ```no_run
/// use gorun::io::AsyncReadExt;
/// # gorun::block_on(async {
/// let mut all = String::new();
/// gorun::io::stdin().read_to_string(&mut all).await.unwrap();
/// # });
/// ```
#[derive(Debug, Default)]
pub struct Stdin {
    /// Bytes taken from the shared buffer, `local[pos..]` not consumed yet.
    local: Vec<u8>,
    pos: usize,
}

/// The process's standard input (Go's `os.Stdin`). Every handle reads from the same stream.
///
/// ```no_run
/// use gorun::io::AsyncBufReadExt;
/// # gorun::block_on(async {
/// let mut line = String::new();
/// gorun::io::stdin().read_line(&mut line).await.unwrap();
/// # });
/// ```
pub fn stdin() -> Stdin {
    Stdin::default()
}

impl Stdin {
    /// Makes `local` non-empty, or reports end of input / an error, or registers the waker.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pos < self.local.len() {
            return Poll::Ready(Ok(()));
        }
        let mut st = lock();
        if !st.buf.is_empty() {
            self.local.clear();
            self.local.extend(st.buf.drain(..));
            self.pos = 0;
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = st.err.take() {
            return Poll::Ready(Err(e));
        }
        if st.eof {
            st.eof = false;
            self.local.clear();
            self.pos = 0;
            return Poll::Ready(Ok(()));
        }
        if !st.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            st.waiters.push(cx.waker().clone());
        }
        if !st.wanted {
            st.wanted = true;
            READING.store(true, SeqCst);
            shared().want.notify_one();
        }
        drop(st);
        start_thread()?;
        Poll::Pending
    }
}

impl Drop for Stdin {
    /// Gives unconsumed bytes back to the front of the shared buffer.
    fn drop(&mut self) {
        if self.pos < self.local.len() {
            let mut st = lock();
            for &b in self.local[self.pos..].iter().rev() {
                st.buf.push_front(b);
            }
        }
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        std::task::ready!(this.poll_fill(cx))?;
        let avail = &this.local[this.pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        this.pos += n;
        Poll::Ready(Ok(n))
    }
}

impl AsyncBufRead for Stdin {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_fill(cx))?;
        Poll::Ready(Ok(&this.local[this.pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.local.len());
    }
}

macro_rules! std_writer {
    ($name:ident, $fn:ident, $std:ident, $go:literal) => {
        #[doc = concat!("A handle to the process's standard ", stringify!($std), ", from [`", stringify!($fn), "`].")]
        #[derive(Debug, Default, Clone, Copy)]
        pub struct $name(());

        #[doc = concat!("The process's standard ", stringify!($std), " (Go's `", $go, "`), an `AsyncWrite`.")]
        ///
        /// ```
        /// use gorun::io::AsyncWriteExt;
        /// # gorun::block_on(async {
        #[doc = concat!("gorun::io::", stringify!($fn), "().write_all(b\"hello\\n\").await.unwrap();")]
        /// # });
        /// ```
        pub fn $fn() -> $name {
            $name(())
        }

        impl AsyncWrite for $name {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(io::$std().write(buf))
            }
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(io::$std().write_vectored(bufs))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(io::$std().flush())
            }
            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(io::$std().flush())
            }
        }
    };
}

std_writer!(Stdout, stdout, stdout, "os.Stdout");
std_writer!(Stderr, stderr, stderr, "os.Stderr");
