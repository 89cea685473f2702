//! Go by Example: Closing Channels. `j, more := <-jobs` is `jobs.recv().await`: `Some(j)` or
//! `None` once the channel is closed and drained.
//!
//! ```go
//! func main() {
//!     jobs := make(chan int, 5)
//!     done := make(chan bool)
//!     go func() {
//!         for {
//!             j, more := <-jobs
//!             if more {
//!                 fmt.Println("received job", j)
//!             } else {
//!                 fmt.Println("received all jobs")
//!                 done <- true
//!                 return
//!             }
//!         }
//!     }()
//!     for j := 1; j <= 3; j++ {
//!         jobs <- j
//!         fmt.Println("sent job", j)
//!     }
//!     close(jobs)
//!     fmt.Println("sent all jobs")
//!     <-done
//!     _, ok := <-jobs
//!     fmt.Println("received more jobs:", ok)
//! }
//! ```

use super::common;
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let jobs = chan::<i32>(5);
    let done = chan::<bool>(0);
    let (j2, d2) = (jobs.clone(), done.clone());
    go(async move {
        loop {
            match j2.recv().await {
                Some(j) => outln!("received job {j}"),
                None => {
                    outln!("received all jobs");
                    d2.send(true).await.unwrap();
                    return;
                }
            }
        }
    });
    for j in 1..=3 {
        jobs.send(j).await.unwrap();
        outln!("sent job {j}");
    }
    jobs.close();
    outln!("sent all jobs");
    done.recv().await;
    let ok = jobs.recv().await.is_some();
    outln!("received more jobs: {ok}");
}
