//! Go by Example: Worker Pools. Three workers share five one-second jobs: about two seconds.
//!
//! ```go
//! func worker(id int, jobs <-chan int, results chan<- int) {
//!     for j := range jobs {
//!         fmt.Println("worker", id, "started  job", j)
//!         time.Sleep(time.Second)
//!         fmt.Println("worker", id, "finished job", j)
//!         results <- j * 2
//!     }
//! }
//!
//! func main() {
//!     const numJobs = 5
//!     jobs := make(chan int, numJobs)
//!     results := make(chan int, numJobs)
//!     for w := 1; w <= 3; w++ {
//!         go worker(w, jobs, results)
//!     }
//!     for j := 1; j <= numJobs; j++ {
//!         jobs <- j
//!     }
//!     close(jobs)
//!     for a := 1; a <= numJobs; a++ {
//!         <-results
//!     }
//! }
//! ```

use super::common::{self, secs};
use gorun::chan::{Receiver, Sender};
use gorun::prelude::*;

async fn worker(id: i32, jobs: Receiver<i32>, results: Sender<i32>) {
    while let Some(j) = jobs.recv().await {
        outln!("worker {id} started  job {j}");
        sleep(secs(1)).await;
        outln!("worker {id} finished job {j}");
        results.send(j * 2).await.unwrap();
    }
}

#[gorun::main]
pub async fn main() {
    const NUM_JOBS: i32 = 5;
    let jobs = chan::<i32>(NUM_JOBS as usize);
    let results = chan::<i32>(NUM_JOBS as usize);
    for w in 1..=3 {
        go(worker(w, jobs.receiver(), results.sender()));
    }
    for j in 1..=NUM_JOBS {
        jobs.send(j).await.unwrap();
    }
    jobs.close();
    for _ in 1..=NUM_JOBS {
        results.recv().await;
    }
}
