//! select! semantics, one behaviour per test.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gorun::chan::{chan, Chan, SendError};
use gorun::select;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn within<R>(secs: u64, f: impl std::future::Future<Output = R>) -> R {
    tokio_rt().block_on(async {
        tokio::time::timeout(Duration::from_secs(secs), f)
            .await
            .expect("test timed out")
    })
}

#[test]
fn picks_the_ready_receive() {
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
fn default_runs_when_nothing_is_ready() {
    futures::executor::block_on(async {
        let a = chan::<i32>(0);
        let x = select! {
            recv(a) -> _v => 1,
            send(a, 5) -> _r => 2,
            default => 3,
        };
        assert_eq!(x, 3);
    });
}

#[test]
fn only_default_runs_default() {
    futures::executor::block_on(async {
        let y = select! { default => 4 };
        assert_eq!(y, 4);
    });
}

#[test]
fn closed_channel_cases_are_ready() {
    futures::executor::block_on(async {
        let a = chan::<i32>(0);
        a.close();
        let r = select! { send(a, 5) -> r => r };
        assert_eq!(r, Err(SendError(5)));
        let r = select! { recv(a) -> v => v };
        assert_eq!(r, None);
    });
}

#[test]
fn nil_channel_cases_are_never_chosen() {
    futures::executor::block_on(async {
        let nil = Chan::<i32>::nil();
        for _ in 0..1000 {
            let r = select! {
                recv(nil) -> _x => "nil recv",
                send(nil, 1) -> _x => "nil send",
                default => "default",
            };
            assert_eq!(r, "default");
        }
        let a = chan::<i32>(1);
        a.try_send(1).unwrap();
        let r = select! { recv(nil) -> _x => 0, recv(a) -> v => v.unwrap() };
        assert_eq!(r, 1);
    });
}

#[test]
fn empty_select_waits_forever() {
    within(10, async {
        let r = tokio::time::timeout(Duration::from_millis(50), async {
            select! {}
        })
        .await;
        assert!(r.is_err());
    });
}

#[test]
fn only_nil_cases_wait_forever() {
    within(10, async {
        let nil = Chan::<i32>::nil();
        let r = tokio::time::timeout(Duration::from_millis(50), async {
            select! { recv(nil) -> _v => () }
        })
        .await;
        assert!(r.is_err());
    });
}

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn losing_send_keeps_its_value_and_drops_it() {
    futures::executor::block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let full = chan::<Counted>(1);
        full.try_send(Counted(drops.clone())).unwrap();
        let ready = chan::<u8>(1);
        ready.try_send(1).unwrap();
        let r = select! {
            send(full, Counted(drops.clone())) -> _r => "send",
            recv(ready) -> _v => "recv",
        };
        assert_eq!(r, "recv");
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the unsent value is dropped with the select"
        );
        assert_eq!(full.len(), 1);
    });
}

#[test]
fn operands_and_send_values_are_evaluated_once_in_source_order() {
    futures::executor::block_on(async {
        let log = Mutex::new(Vec::new());
        let a = chan::<u8>(1);
        let b = chan::<u8>(0);
        let pick = |name: &'static str, c: &Chan<u8>| {
            log.lock().unwrap().push(name);
            c.clone()
        };
        let val = |name: &'static str, v: u8| {
            log.lock().unwrap().push(name);
            v
        };
        let r = select! {
            recv(pick("c1", &b)) -> _v => 1,
            send(pick("c2", &a), val("v2", 7)) -> r => { r.unwrap(); 2 },
            send(pick("c3", &b), val("v3", 8)) -> _r => 3,
        };
        assert_eq!(r, 2);
        assert_eq!(*log.lock().unwrap(), ["c1", "c2", "v2", "c3", "v3"]);
        assert_eq!(a.try_recv(), Ok(7));
    });
}

#[test]
fn operand_may_be_a_temporary() {
    futures::executor::block_on(async {
        fn closed() -> Chan<u8> {
            let c = chan(0);
            c.close();
            c
        }
        let v = select! { recv(closed()) -> v => v };
        assert_eq!(v, None);
    });
}

#[test]
fn works_on_sender_and_receiver_views_and_references() {
    futures::executor::block_on(async {
        let c = chan::<u8>(1);
        let (tx, rx) = (c.sender(), c.receiver());
        select! { send(tx, 3) -> r => r.unwrap() }
        let v = select! { recv(&rx) -> v => v };
        assert_eq!(v, Some(3));
        let txr = &tx;
        select! { send(txr, 4) -> r => r.unwrap() }
        assert_eq!(c.try_recv(), Ok(4));
    });
}

#[test]
fn bodies_can_break_continue_and_use_question_mark() {
    async fn f(c: &Chan<Result<u8, String>>) -> Result<u32, String> {
        let mut n = 0u32;
        loop {
            select! {
                recv(c) -> v => {
                    let Some(v) = v else { break };
                    if v.clone()? == 0 {
                        continue;
                    }
                    n += u32::from(v?);
                },
            }
        }
        Ok(n)
    }
    futures::executor::block_on(async {
        let c = chan(4);
        c.try_send(Ok(0)).unwrap();
        c.try_send(Ok(5)).unwrap();
        c.close();
        assert_eq!(f(&c).await, Ok(5));
        let c = chan(4);
        c.try_send(Err("boom".to_string())).unwrap();
        assert_eq!(f(&c).await, Err("boom".to_string()));
    });
}

#[test]
fn bodies_can_await_and_return() {
    async fn first_nonzero(a: &Chan<u8>) -> u8 {
        loop {
            select! {
                recv(a) -> v => {
                    let w = async { v.unwrap() * 2 }.await;
                    if w > 0 {
                        return w;
                    }
                },
            }
        }
    }
    futures::executor::block_on(async {
        let a = chan(2);
        a.try_send(0).unwrap();
        a.try_send(21).unwrap();
        assert_eq!(first_nonzero(&a).await, 42);
    });
}

#[test]
fn blocked_select_wakes_on_a_later_send() {
    within(10, async {
        let a = chan::<u8>(0);
        let b = chan::<u8>(0);
        let b2 = b.clone();
        let t = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            b2.send(9).await.unwrap();
        });
        let r = select! {
            recv(a) -> v => ("a", v),
            recv(b) -> v => ("b", v),
        };
        assert_eq!(r, ("b", Some(9)));
        t.await.unwrap();
    });
}

#[test]
fn blocked_send_case_completes_when_a_receiver_arrives() {
    within(10, async {
        let a = chan::<u8>(0);
        let b = chan::<u8>(0);
        let a2 = a.clone();
        let t = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            a2.recv().await
        });
        let r = select! {
            send(a, 1) -> r => { r.unwrap(); "sent" },
            recv(b) -> _v => "recv",
        };
        assert_eq!(r, "sent");
        assert_eq!(t.await.unwrap(), Some(1));
    });
}

#[test]
fn exactly_one_case_completes_when_both_have_blocked_senders() {
    within(10, async {
        let a = chan::<u8>(0);
        let b = chan::<u8>(0);
        let (a2, b2) = (a.clone(), b.clone());
        let ta = tokio::spawn(async move { a2.send(1).await });
        let tb = tokio::spawn(async move { b2.send(2).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        let r = select! { recv(a) -> v => v, recv(b) -> v => v };
        // The other sender is still blocked with its value.
        let other = if r == Some(1) { &b } else { &a };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let left = other.try_recv().unwrap();
        assert_ne!(Some(left), r);
        ta.await.unwrap().unwrap();
        tb.await.unwrap().unwrap();
    });
}

#[test]
fn select_does_not_pair_with_itself() {
    within(10, async {
        let c = chan::<u8>(0);
        let r = tokio::time::timeout(Duration::from_millis(50), async {
            select! {
                send(c, 1) -> _r => "send",
                recv(c) -> _v => "recv",
            }
        })
        .await;
        assert!(r.is_err(), "a select completed against itself");
        // With a partner receiver, the send case fires.
        let c2 = c.clone();
        let t = tokio::spawn(async move { c2.recv().await });
        let r = select! {
            send(c, 1) -> _r => "send",
            recv(c) -> _v => "recv",
        };
        assert_eq!(r, "send");
        assert_eq!(t.await.unwrap(), Some(1));
    });
}

#[test]
fn dropping_a_pending_select_loses_no_value() {
    within(20, async {
        // A select waiting on `a` is repeatedly dropped while try_send hands values to it.
        let a = chan::<u32>(0);
        let a2 = a.clone();
        let n = 2000u32;
        let sender = tokio::spawn(async move {
            let mut sent = 0;
            while sent < n {
                match a2.try_send(sent) {
                    Ok(()) => sent += 1,
                    Err(_) => tokio::task::yield_now().await,
                }
            }
        });
        let mut got = Vec::new();
        let nil = Chan::<u32>::nil();
        while got.len() < n as usize {
            let r = tokio::time::timeout(Duration::from_micros(50), async {
                select! { recv(a) -> v => v, recv(nil) -> _v => None }
            })
            .await;
            if let Ok(v) = r {
                got.push(v.unwrap());
            }
        }
        sender.await.unwrap();
        assert_eq!(
            got,
            (0..n).collect::<Vec<_>>(),
            "values lost, duplicated or reordered"
        );
    });
}

#[test]
fn select_future_is_send() {
    fn is_send<T: Send>(_: T) {}
    let c = chan::<u8>(0);
    is_send(async move {
        select! { recv(c) -> _v => () }
    });
}

#[test]
fn bodies_may_set_a_channel_to_nil() {
    // Go's idiom for disabling a case once its channel is closed.
    futures::executor::block_on(async {
        let mut a = chan::<u8>(2);
        let mut b = chan::<u8>(2);
        a.try_send(1).unwrap();
        b.try_send(2).unwrap();
        a.close();
        b.close();
        let mut got = vec![];
        while !(a.is_nil() && b.is_nil()) {
            select! {
                recv(a) -> v => match v {
                    Some(v) => got.push(v),
                    None => a = Chan::nil(),
                },
                recv(b) -> v => match v {
                    Some(v) => got.push(v),
                    None => b = Chan::nil(),
                },
            }
        }
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

/// A case made ready by something that happened before the select (on another thread, then
/// joined) is never passed over for `default`: the first pass reads each channel's readiness
/// without its lock, and that reading must not be stale here. Covers a buffered value, room
/// freed by a receive, and close.
#[test]
fn default_is_not_taken_over_a_case_made_ready_before() {
    for round in 0..500u32 {
        let c = chan::<u32>(1);
        let c2 = c.clone();
        std::thread::spawn(move || c2.try_send(round).unwrap())
            .join()
            .unwrap();
        let got = futures::executor::block_on(async {
            select! { recv(c) -> v => v, default => None }
        });
        assert_eq!(got, Some(round), "a buffered value passed over");

        c.try_send(1).unwrap();
        let c2 = c.clone();
        std::thread::spawn(move || assert_eq!(c2.try_recv(), Ok(1)))
            .join()
            .unwrap();
        let sent = futures::executor::block_on(async {
            select! { send(c, 2) -> r => r.is_ok(), default => false }
        });
        assert!(sent, "room in the buffer passed over");
        assert_eq!(c.try_recv(), Ok(2));

        let u = chan::<u32>(0);
        let u2 = u.clone();
        std::thread::spawn(move || u2.close()).join().unwrap();
        let closed = futures::executor::block_on(async {
            select! { recv(u) -> v => v.is_none(), default => false }
        });
        assert!(closed, "a closed channel passed over");
    }
}

/// The same for an unbuffered channel's parked partner: once a goroutine is seen parked in a
/// send (or receive), a select with `default` takes the rendezvous.
#[test]
fn default_is_not_taken_over_a_parked_partner() {
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(async {
        gorun::time::timeout(Duration::from_secs(20), async {
            for round in 0..50u32 {
                let c = chan::<u32>(0);
                let c2 = c.clone();
                let h = gorun::go(async move { c2.send(round).await.unwrap() });
                common::dump_listing(h.id(), "chan send").await;
                let got = select! { recv(c) -> v => v, default => None };
                assert_eq!(got, Some(round), "a parked sender passed over");
                h.await.unwrap();

                let c2 = c.clone();
                let h = gorun::go(async move { c2.recv().await });
                common::dump_listing(h.id(), "chan receive").await;
                let sent = select! { send(c, round) -> r => r.is_ok(), default => false };
                assert!(sent, "a parked receiver passed over");
                assert_eq!(h.await.unwrap(), Some(round));
            }
        })
        .await
        .expect("test timed out");
    });
}
