//! select! semantics.
use gorun::chan::{chan, Chan, SendError};
use gorun::select;

#[test]
fn picks_ready_recv() {
    futures::executor::block_on(async {
        let a = chan::<i32>(1);
        let b = chan::<i32>(1);
        b.try_send(2).unwrap();
        let r = select! {
            recv(a) -> v => ("a", v),
            recv(b) -> v => ("b", v),
        };
        assert_eq!(r, ("b", Some(2)));
    });
}

#[test]
fn default_runs_when_nothing_ready() {
    futures::executor::block_on(async {
        let a = chan::<i32>(0);
        let x = select! {
            recv(a) -> _v => 1,
            send(a, 5) -> _r => 2,
            default => 3,
        };
        assert_eq!(x, 3);
        let y = select! { default => 4 };
        assert_eq!(y, 4);
    });
}

#[test]
fn send_case_on_closed_is_err() {
    futures::executor::block_on(async {
        let a = chan::<i32>(0);
        a.close();
        let r = select! { send(a, 5) -> r => r };
        assert_eq!(r, Err(SendError(5)));
        let nil = Chan::<i32>::nil();
        let r = select! { recv(nil) -> _x => unreachable!(), recv(a) -> v => v };
        assert_eq!(r, None);
    });
}
