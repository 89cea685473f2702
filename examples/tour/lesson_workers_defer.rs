//! Workers that signal the WaitGroup with `defer wg.Done()`, so it runs on every way out of
//! the function, panics included. The Rust `defer` is a guard whose drop calls `wg.done()`.
//!
//! ```go
//! func worker(id int, results []int, wg *sync.WaitGroup) {
//!     defer wg.Done()
//!     time.Sleep(time.Duration(id) * 100 * time.Millisecond)
//!     results[id-1] = id * id
//!     fmt.Printf("worker %d finished\n", id)
//! }
//!
//! func main() {
//!     var wg sync.WaitGroup
//!     results := make([]int, 4)
//!     for id := 1; id <= 4; id++ {
//!         wg.Add(1)
//!         go worker(id, results, &wg)
//!     }
//!     wg.Wait()
//!     fmt.Println("results:", results)
//! }
//! ```

use std::sync::Arc;

use super::common::{self, defer, millis};
use gorun::prelude::*;

async fn worker(id: usize, results: Arc<Mutex<Vec<usize>>>, wg: WaitGroup) {
    let _done = defer(|| wg.done());
    sleep(millis(100) * id as u32).await;
    results.lock().await[id - 1] = id * id;
    outln!("worker {id} finished");
}

#[gorun::main]
pub async fn main() {
    let wg = WaitGroup::new();
    let results = Arc::new(Mutex::new(vec![0; 4]));
    for id in 1..=4 {
        wg.add(1);
        go(worker(id, results.clone(), wg.clone()));
    }
    wg.wait().await;
    outln!("results: {:?}", *results.lock().await);
}
