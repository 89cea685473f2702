//! Go by Example: Stateful Goroutines. One goroutine owns the state; 100 readers and 10
//! writers talk to it over channels, each request carrying its own reply channel.
//!
//! ```go
//! type readOp struct {
//!     key  int
//!     resp chan int
//! }
//! type writeOp struct {
//!     key  int
//!     val  int
//!     resp chan bool
//! }
//!
//! func main() {
//!     var readOps, writeOps uint64
//!     reads := make(chan readOp)
//!     writes := make(chan writeOp)
//!     go func() {
//!         var state = make(map[int]int)
//!         for {
//!             select {
//!             case read := <-reads:
//!                 read.resp <- state[read.key]
//!             case write := <-writes:
//!                 state[write.key] = write.val
//!                 write.resp <- true
//!             }
//!         }
//!     }()
//!     for r := 0; r < 100; r++ {
//!         go func() {
//!             for {
//!                 read := readOp{key: rand.Intn(5), resp: make(chan int)}
//!                 reads <- read
//!                 <-read.resp
//!                 atomic.AddUint64(&readOps, 1)
//!                 time.Sleep(time.Millisecond)
//!             }
//!         }()
//!     }
//!     for w := 0; w < 10; w++ {
//!         go func() {
//!             for {
//!                 write := writeOp{key: rand.Intn(5), val: rand.Intn(100), resp: make(chan bool)}
//!                 writes <- write
//!                 <-write.resp
//!                 atomic.AddUint64(&writeOps, 1)
//!                 time.Sleep(time.Millisecond)
//!             }
//!         }()
//!     }
//!     time.Sleep(time.Second)
//!     fmt.Println("readOps:", atomic.LoadUint64(&readOps))
//!     fmt.Println("writeOps:", atomic.LoadUint64(&writeOps))
//! }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::common::{self, rand_intn, secs};
use gorun::prelude::*;

struct ReadOp {
    key: u64,
    resp: Chan<u64>,
}

struct WriteOp {
    key: u64,
    val: u64,
    resp: Chan<bool>,
}

#[gorun::main]
pub async fn main() {
    let read_ops = Arc::new(AtomicU64::new(0));
    let write_ops = Arc::new(AtomicU64::new(0));
    let reads = chan::<ReadOp>(0);
    let writes = chan::<WriteOp>(0);

    let (r, w) = (reads.clone(), writes.clone());
    go(async move {
        let mut state = HashMap::<u64, u64>::new();
        loop {
            select! {
                recv(r) -> read => {
                    let read = read.unwrap();
                    let v = state.get(&read.key).copied().unwrap_or(0);
                    read.resp.send(v).await.unwrap();
                },
                recv(w) -> write => {
                    let write = write.unwrap();
                    state.insert(write.key, write.val);
                    write.resp.send(true).await.unwrap();
                },
            }
        }
    });

    for _ in 0..100 {
        let (reads, read_ops) = (reads.clone(), read_ops.clone());
        go(async move {
            loop {
                let read = ReadOp {
                    key: rand_intn(5),
                    resp: chan(0),
                };
                let resp = read.resp.clone();
                let _ = reads.send(read).await;
                resp.recv().await;
                read_ops.fetch_add(1, Ordering::Relaxed);
                sleep(Duration::from_millis(1)).await;
            }
        });
    }
    for _ in 0..10 {
        let (writes, write_ops) = (writes.clone(), write_ops.clone());
        go(async move {
            loop {
                let write = WriteOp {
                    key: rand_intn(5),
                    val: rand_intn(100),
                    resp: chan(0),
                };
                let resp = write.resp.clone();
                let _ = writes.send(write).await;
                resp.recv().await;
                write_ops.fetch_add(1, Ordering::Relaxed);
                sleep(Duration::from_millis(1)).await;
            }
        });
    }

    sleep(secs(1)).await;
    outln!("readOps: {}", read_ops.load(Ordering::Relaxed));
    outln!("writeOps: {}", write_ops.load(Ordering::Relaxed));
}
