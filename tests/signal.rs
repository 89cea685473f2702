//! gorun::signal (Go's os/signal): notify delivers, stop ends delivery and restores the earlier
//! handler, ctrl_c completes on SIGINT, and a handler installed before gorun's is chained.
//! Each test uses its own signal: signals are process-wide and tests run in parallel.
mod common;

use gorun::signal::{self, Signal};
use gorun::time::{timeout, Duration};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Sends `sig` to the calling thread: its handler has run when this returns (a signal sent to
/// the process may be handled later, by any thread).
fn kill_self(sig: libc::c_int) {
    // SAFETY: `raise` has no memory-safety preconditions; every signal used here is handled.
    assert_eq!(unsafe { libc::raise(sig) }, 0);
}

#[test]
fn notify_delivers_the_signal_on_the_channel_and_in_select() {
    let _w = common::watchdog("notify_delivers", 30);
    let sigs = signal::notify(&[Signal::User1]);
    kill_self(libc::SIGUSR1);
    let got = gorun::block_on(async {
        let never = gorun::chan::chan::<()>(0);
        timeout(Duration::from_secs(10), async {
            gorun::select! {
                recv(sigs) -> s => s,
                recv(never) -> _ => None,
            }
        })
        .await
        .expect("SIGUSR1 never arrived")
    });
    assert_eq!(got, Some(Signal::User1));
    signal::stop(&sigs);
}

#[test]
fn stop_ends_delivery_to_that_receiver_only() {
    let _w = common::watchdog("stop_ends_delivery", 30);
    let stopped = signal::notify(&[Signal::Hangup]);
    let kept = signal::notify(&[Signal::Hangup]);
    signal::stop(&stopped);
    kill_self(libc::SIGHUP);
    let got = gorun::block_on(timeout(Duration::from_secs(10), kept.recv()));
    assert_eq!(got.expect("SIGHUP never arrived"), Some(Signal::Hangup));
    // Both channels are sent to in the same pass: had `stopped` still been registered, it would
    // hold the signal now.
    assert!(
        stopped.try_recv().is_err(),
        "a stopped receiver got a signal"
    );
    signal::stop(&kept);
}

static EARLIER_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn earlier_handler(_: libc::c_int) {
    EARLIER_CALLS.fetch_add(1, SeqCst);
}

#[test]
fn an_earlier_handler_is_chained_and_restored_by_stop() {
    let _w = common::watchdog("earlier_handler_chained", 30);
    // SAFETY: a zeroed sigaction with a one-argument handler and an empty mask is valid.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = earlier_handler as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut()), 0);
    }
    let sigs = signal::notify(&[Signal::User2]);
    kill_self(libc::SIGUSR2);
    let got = gorun::block_on(timeout(Duration::from_secs(10), sigs.recv()));
    assert_eq!(got.expect("SIGUSR2 never arrived"), Some(Signal::User2));
    assert_eq!(
        EARLIER_CALLS.load(SeqCst),
        1,
        "the earlier handler was not chained"
    );
    signal::stop(&sigs);
    // The earlier handler is back (and alone): it runs, the channel gets nothing.
    kill_self(libc::SIGUSR2);
    assert_eq!(
        EARLIER_CALLS.load(SeqCst),
        2,
        "the earlier handler was not restored"
    );
    assert!(sigs.try_recv().is_err());
}

#[test]
fn ctrl_c_completes_on_sigint() {
    let _w = common::watchdog("ctrl_c", 30);
    let ctrl_c = signal::ctrl_c();
    // Sent before the first poll: the handler is already in place, nothing is lost.
    kill_self(libc::SIGINT);
    gorun::block_on(async {
        timeout(Duration::from_secs(10), ctrl_c)
            .await
            .expect("ctrl_c never completed")
            .unwrap();
    });
}

#[test]
fn signal_names_are_gos() {
    assert_eq!(Signal::Interrupt.to_string(), "interrupt");
    assert_eq!(Signal::Terminate.to_string(), "terminated");
    assert_eq!(Signal::Hangup.to_string(), "hangup");
    assert_eq!(Signal::User1.number(), libc::SIGUSR1);
}
