//! `SIGQUIT` prints every goroutine and exits with status 2, as Go does, when the environment
//! variable `GORUN_TRACEBACK=all` is set (checked when the first runtime starts).
//!
//! A signal handler may only do async-signal-safe things, so the handler writes one byte to
//! a pipe; a gorun thread blocked reading the pipe formats the dump (`runtime::dump` of every
//! live runtime) on stderr and exits. Without the variable nothing is installed and `SIGQUIT`
//! keeps its default action (core dump).

use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::sync::Once;

static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigquit(_: libc::c_int) {
    let fd = PIPE_WRITE.load(Relaxed);
    if fd >= 0 {
        let b = [b'q'];
        // SAFETY: `write` is async-signal-safe; `b` is a valid one-byte buffer. A failed write
        // (full pipe: a dump is already coming) is fine to ignore.
        unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
    }
}

/// Installs the handler once per process if `GORUN_TRACEBACK=all`.
pub(crate) fn install_if_requested() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("GORUN_TRACEBACK").as_deref() != Ok("all") {
            return;
        }
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return;
        }
        let read_fd = fds[0];
        let spawned = std::thread::Builder::new()
            .name("gorun-sigquit".into())
            .spawn(move || {
                let _ours = super::deadlock::gorun_thread();
                let mut b = [0u8; 1];
                loop {
                    // SAFETY: `read_fd` is our pipe's read end, `b` a valid one-byte buffer.
                    let n = unsafe { libc::read(read_fd, b.as_mut_ptr().cast(), 1) };
                    if n == 1 {
                        eprintln!("SIGQUIT: quit\n\n{}", super::deadlock::dump_all());
                        std::process::exit(2);
                    }
                    if n < 0
                        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                    {
                        continue;
                    }
                    return;
                }
            });
        if spawned.is_err() {
            return;
        }
        PIPE_WRITE.store(fds[1], Relaxed);
        // SAFETY: a zeroed `sigaction` is a valid starting value; we set the handler (a plain
        // `extern "C" fn(c_int)`, so no SA_SIGINFO), an empty mask and SA_RESTART.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigquit as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(libc::SIGQUIT, &sa, std::ptr::null_mut());
        }
    });
}
