//! Among cases ready at once, select! picks uniformly at random (Go's pass 1).
use gorun::chan::chan;
use gorun::select;

#[test]
fn two_always_ready_channels_are_chosen_evenly() {
    futures::executor::block_on(async {
        let a = chan::<u8>(1);
        let b = chan::<u8>(1);
        let (mut na, mut nb) = (0u32, 0u32);
        for _ in 0..10_000 {
            let _ = a.try_send(1);
            let _ = b.try_send(2);
            select! {
                recv(a) -> v => { assert_eq!(v, Some(1)); na += 1 },
                recv(b) -> v => { assert_eq!(v, Some(2)); nb += 1 },
            }
        }
        assert_eq!(na + nb, 10_000);
        assert!((4500..=5500).contains(&na), "a chosen {na} times, b {nb}");
    });
}

#[test]
fn three_ready_cases_are_chosen_evenly() {
    futures::executor::block_on(async {
        let cs = [chan::<u8>(1), chan::<u8>(1), chan::<u8>(1)];
        let mut n = [0u32; 3];
        for _ in 0..9_000 {
            for c in &cs {
                let _ = c.try_send(0);
            }
            let i = select! {
                recv(cs[0]) -> _v => 0,
                recv(cs[1]) -> _v => 1,
                recv(cs[2]) -> _v => 2,
            };
            n[i] += 1;
        }
        for k in n {
            assert!((2700..=3300).contains(&k), "{n:?}");
        }
    });
}

#[test]
fn ready_send_and_recv_cases_are_chosen_evenly() {
    futures::executor::block_on(async {
        let a = chan::<u8>(1);
        let b = chan::<u8>(1);
        let (mut ns, mut nr) = (0u32, 0u32);
        for _ in 0..10_000 {
            let _ = a.try_recv();
            let _ = b.try_send(1);
            select! {
                send(a, 1) -> r => { r.unwrap(); ns += 1 },
                recv(b) -> _v => nr += 1,
            }
        }
        assert!((4500..=5500).contains(&ns), "send {ns}, recv {nr}");
    });
}
