//! gorun's signal handling: one self-pipe and one reader thread serve both the `SIGQUIT`
//! goroutine dump (`GORUN_TRACEBACK=all`, as Go prints on `SIGQUIT`) and `gorun::signal`
//! (Go's `os/signal`: `notify`, `ctrl_c`, `stop`).
//!
//! # Algorithm
//!
//! A signal handler may only do async-signal-safe things. Ours ([`on_signal`]):
//!
//! 1. saves `errno` (the interrupted code may be about to read it);
//! 2. sets the signal's bit in [`PENDING`] (a lock-free `fetch_or`) and writes one byte to the
//!    pipe's write end, which is **non-blocking**: a full pipe (the reader is behind) makes the
//!    write fail with `EAGAIN` instead of blocking the interrupted thread forever; no signal is
//!    lost then, because its bit is already set and the bytes still in the pipe will wake the
//!    reader, which then reads the whole mask (equal signals coalesce, as in Go);
//! 3. calls the handler that was installed for that signal before ours (chaining), if it was a
//!    function (not `SIG_DFL`/`SIG_IGN`), with the same arguments;
//! 4. restores `errno`.
//!
//! The reader thread (`gorun-signal`, started with the first handler) blocks reading the pipe,
//! then takes the whole [`PENDING`] mask with a `swap(0)` and dispatches each signal: `SIGQUIT`
//! prints every runtime's goroutines and exits with status 2; the others go to the delivery
//! function `gorun::signal` registered ([`set_delivery`]: its `deliver`, which sends on the
//! `notify` channels; the runtime sits below `gorun::signal` and does not name it).
//!
//! # Invariants
//!
//! - The pipe, the reader thread and [`PIPE_WRITE`] are created once and never closed.
//! - [`PREV`] holds, per signal, the earlier handler to chain to (0: none). It is written before
//!   our handler is installed for that signal and only read by the handler afterwards.
//! - A bit set in [`PENDING`] is always followed by a write attempt; a write fails only when
//!   the pipe is full, that is when unread bytes guarantee the reader will look at the mask.

use crate::loom::Unpoison;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, OnceLock};

/// The pipe's write end (non-blocking), or -1 before the first install.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Signals caught and not yet dispatched, one bit per signal number.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Signal numbers we handle are below 32.
const NSIG: usize = 32;
/// Per signal: the earlier handler's address (0 when it was `SIG_DFL`/`SIG_IGN`: nothing to
/// chain), and whether it takes `SA_SIGINFO` arguments.
static PREV: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];
static PREV_SIGINFO: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];
/// Per signal: the full earlier `sigaction`, restored by [`uninstall`]. Only touched under the
/// lock, never by the handler.
static SAVED: Mutex<Vec<(libc::c_int, SavedAction)>> = Mutex::new(Vec::new());
/// Whether `SIGQUIT` dumps goroutines (`GORUN_TRACEBACK=all`); then it is never uninstalled.
static QUIT_DUMP: AtomicBool = AtomicBool::new(false);

struct SavedAction(libc::sigaction);
// SAFETY: a `sigaction` is plain data (a function address, a mask and flags); the raw pointer
// type of its fields is what keeps it from being `Send` automatically.
unsafe impl Send for SavedAction {}

fn errno_location() -> *mut libc::c_int {
    // SAFETY: `__errno_location` has no preconditions and returns the calling thread's errno.
    unsafe { libc::__errno_location() }
}

/// The signal handler (see the module docs). Installed with `SA_SIGINFO` so that an earlier
/// `SA_SIGINFO` handler can be chained with its real arguments.
extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    handle(sig, PIPE_WRITE.load(SeqCst), info, ctx);
}

/// The handler's body, with the pipe's write end as a parameter (tests pass their own).
fn handle(
    sig: libc::c_int,
    pipe_write: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    // SAFETY: the errno location is valid for the calling thread for its whole life.
    let saved_errno = unsafe { *errno_location() };
    if (0..NSIG as libc::c_int).contains(&sig) {
        // The earlier handler first: once the reader is woken it may end the process (the
        // SIGQUIT dump exits), which would cut the earlier handler short.
        chain(sig, info, ctx);
        PENDING.fetch_or(1 << sig, SeqCst);
        wake_reader(pipe_write);
    }
    // SAFETY: as above.
    unsafe { *errno_location() = saved_errno };
}

/// Writes the wake-up byte; a full pipe (`EAGAIN`) is fine to ignore (see the invariants).
fn wake_reader(fd: libc::c_int) {
    if fd >= 0 {
        let b = [1u8];
        // SAFETY: `write` is async-signal-safe; `b` is a valid one-byte buffer. `fd` is
        // non-blocking, so this never blocks.
        unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
    }
}

/// Calls the handler that was installed for `sig` before ours, if it was a function.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let i = sig as usize;
    let prev = PREV[i].load(SeqCst);
    if prev == 0 {
        return;
    }
    if PREV_SIGINFO[i].load(SeqCst) {
        // SAFETY: `prev` was read from the earlier `sigaction` with SA_SIGINFO set: it is a
        // three-argument handler, called with the arguments the kernel gave us.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(prev);
            f(sig, info, ctx);
        }
    } else {
        // SAFETY: without SA_SIGINFO the earlier handler is a one-argument `sa_handler`.
        unsafe {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(prev);
            f(sig);
        }
    }
}

/// Creates the pipe: both ends close-on-exec, the write end non-blocking. Returns
/// `(read, write)`.
pub(crate) fn make_pipe() -> std::io::Result<(libc::c_int, libc::c_int)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fds[1]` is the write end just created; F_GETFL/F_SETFL take no pointers.
    let ok = unsafe {
        let flags = libc::fcntl(fds[1], libc::F_GETFL);
        flags >= 0 && libc::fcntl(fds[1], libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if !ok {
        let e = std::io::Error::last_os_error();
        // SAFETY: both descriptors are ours and not shared yet.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        return Err(e);
    }
    Ok((fds[0], fds[1]))
}

/// Creates the pipe and the reader thread once per process.
fn start_reader() -> std::io::Result<()> {
    static STARTED: OnceLock<Result<(), std::io::ErrorKind>> = OnceLock::new();
    let r = STARTED.get_or_init(|| {
        let (read_fd, write_fd) = make_pipe().map_err(|e| e.kind())?;
        std::thread::Builder::new()
            .name("gorun-signal".into())
            .spawn(move || reader(read_fd))
            .map_err(|e| e.kind())?;
        PIPE_WRITE.store(write_fd, SeqCst);
        Ok(())
    });
    r.map_err(|k| std::io::Error::new(k, "gorun: cannot start the signal thread"))
}

/// Where the reader sends the signals it does not handle itself: `gorun::signal`'s `deliver`,
/// registered before that module installs any handler. Unset while no channel was ever
/// registered: then there is nobody to deliver to.
static DELIVER: OnceLock<fn(libc::c_int)> = OnceLock::new();

/// Registers where the reader delivers signals (`gorun::signal` calls it, always with the
/// same function, before [`install`]).
pub(crate) fn set_delivery(deliver: fn(libc::c_int)) {
    let _ = DELIVER.set(deliver);
}

fn reader(read_fd: libc::c_int) {
    let _ours = super::deadlock::gorun_thread();
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `read_fd` is our pipe's read end, `buf` a valid buffer of its length.
        let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if n == 0 {
            return;
        }
        let mask = PENDING.swap(0, SeqCst);
        for sig in 0..NSIG as libc::c_int {
            if mask & (1 << sig) == 0 {
                continue;
            }
            if sig == libc::SIGQUIT && QUIT_DUMP.load(SeqCst) {
                eprintln!("SIGQUIT: quit\n\n{}", super::deadlock::dump_all());
                std::process::exit(2);
            }
            if let Some(deliver) = DELIVER.get() {
                deliver(sig);
            }
        }
    }
}

/// Installs our handler for `sig` (once; later calls do nothing), remembering the earlier
/// handler to chain to and to restore on [`uninstall`].
pub(crate) fn install(sig: libc::c_int) -> std::io::Result<()> {
    assert!((1..NSIG as libc::c_int).contains(&sig));
    start_reader()?;
    let mut saved = SAVED.lock().unpoison();
    if saved.iter().any(|(s, _)| *s == sig) {
        return Ok(());
    }
    // SAFETY: a zeroed `sigaction` is a valid value to read the current one into; `sig` is a
    // valid signal number.
    let old = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        old
    };
    let i = sig as usize;
    let is_fn = old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN;
    PREV_SIGINFO[i].store(old.sa_flags & libc::SA_SIGINFO != 0, SeqCst);
    PREV[i].store(if is_fn { old.sa_sigaction } else { 0 }, SeqCst);
    // SAFETY: a zeroed `sigaction` is a valid starting value; we set a three-argument handler
    // with SA_SIGINFO to match, an empty mask, and SA_RESTART so interrupted calls resume.
    let r = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO;
        libc::sigaction(sig, &sa, std::ptr::null_mut())
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    saved.push((sig, SavedAction(old)));
    Ok(())
}

/// Puts back the handler that was installed for `sig` before ours (Go's `signal.Stop` of the
/// last channel: the default action again). Does nothing if ours is not installed, or for
/// `SIGQUIT` while it dumps goroutines.
pub(crate) fn uninstall(sig: libc::c_int) {
    if sig == libc::SIGQUIT && QUIT_DUMP.load(SeqCst) {
        return;
    }
    let mut saved = SAVED.lock().unpoison();
    if let Some(pos) = saved.iter().position(|(s, _)| *s == sig) {
        let (_, old) = saved.swap_remove(pos);
        // SAFETY: `old` is the `sigaction` read from the kernel for this signal.
        unsafe { libc::sigaction(sig, &old.0, std::ptr::null_mut()) };
        PREV[sig as usize].store(0, SeqCst);
    }
}

/// Goroutines and threads waiting on a `gorun::signal` channel: while any exist, the signal
/// thread may still wake someone, so deadlock detection stays quiet.
pub(crate) static WATCHERS: AtomicUsize = AtomicUsize::new(0);

/// Installs the `SIGQUIT` dump once per process if `GORUN_TRACEBACK=all`.
pub(crate) fn install_if_requested() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var("GORUN_TRACEBACK").as_deref() != Ok("all") {
            return;
        }
        QUIT_DUMP.store(true, SeqCst);
        if let Err(e) = install(libc::SIGQUIT) {
            QUIT_DUMP.store(false, SeqCst);
            eprintln!("gorun: GORUN_TRACEBACK=all: cannot handle SIGQUIT: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on a thread and fails if it has not returned within 10 s (instead of hanging).
    fn bounded(what: &str, f: impl FnOnce() + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            f();
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{what}: did not return (blocked)"));
    }

    #[test]
    fn a_full_pipe_does_not_block_the_handler() {
        let (read_fd, write_fd) = make_pipe().unwrap();
        // Nobody reads: far more wake-ups than a pipe holds (64 KiB) must all return.
        bounded("wake_reader on a full pipe", move || {
            for _ in 0..200_000 {
                wake_reader(write_fd);
            }
        });
        // SAFETY: both ends are this test's own.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
    }

    #[test]
    fn the_handler_preserves_errno() {
        bounded("errno", || {
            // The handler's write to a bad descriptor fails with EBADF, which must not leak
            // into the interrupted code's errno. (SIGWINCH: chained to nothing here.)
            // SAFETY: the errno location is valid for this thread.
            unsafe { *errno_location() = 4242 };
            handle(
                libc::SIGWINCH,
                1_000_000,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            // SAFETY: as above.
            assert_eq!(unsafe { *errno_location() }, 4242, "errno clobbered");
            PENDING.fetch_and(!(1 << libc::SIGWINCH), SeqCst);
        });
    }
}
