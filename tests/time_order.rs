//! 100,000 timers with random deadlines fire in deadline order (within the 1 ms resolution),
//! none early.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use gorun::time::sleep_until;

mod common;
use common::run;

#[test]
fn hundred_thousand_timers_fire_in_deadline_order() {
    const N: usize = 100_000;
    let results = run(60, async {
        // Far enough ahead that every sleep has registered (first poll) before the first is due.
        let start = Instant::now() + Duration::from_millis(1000);
        let seq = Arc::new(AtomicUsize::new(0));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut all: FuturesUnordered<_> = (0..N)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let deadline = start + Duration::from_micros(x % 2_000_000);
                let seq = seq.clone();
                async move {
                    sleep_until(deadline).await;
                    let now = Instant::now();
                    (seq.fetch_add(1, Ordering::SeqCst), deadline, now)
                }
            })
            .collect();
        let mut out = Vec::with_capacity(N);
        while let Some(r) = all.next().await {
            out.push(r);
        }
        out
    });
    assert_eq!(results.len(), N);
    let mut by_seq = results;
    by_seq.sort_by_key(|r| r.0);
    let mut max_deadline = by_seq[0].1;
    for &(_, deadline, fired) in &by_seq {
        assert!(fired >= deadline, "fired {:?} early", deadline - fired);
        // Completion order follows deadline order up to the wheel's 1 ms resolution.
        assert!(
            deadline + Duration::from_millis(1) >= max_deadline,
            "a timer due {:?} earlier completed after a later one",
            max_deadline - deadline
        );
        max_deadline = max_deadline.max(deadline);
    }
}
