//! Go by Example: Mutexes. The Rust `Mutex` owns the map it guards, so it cannot be touched
//! without the lock; the guard unlocks when dropped (Go's `defer c.mu.Unlock()`).
//!
//! ```go
//! type Container struct {
//!     mu       sync.Mutex
//!     counters map[string]int
//! }
//!
//! func (c *Container) inc(name string) {
//!     c.mu.Lock()
//!     defer c.mu.Unlock()
//!     c.counters[name]++
//! }
//!
//! func main() {
//!     c := Container{counters: map[string]int{"a": 0, "b": 0}}
//!     var wg sync.WaitGroup
//!     doIncrement := func(name string, n int) {
//!         for i := 0; i < n; i++ {
//!             c.inc(name)
//!         }
//!     }
//!     wg.Go(func() { doIncrement("a", 10000) })
//!     wg.Go(func() { doIncrement("a", 10000) })
//!     wg.Go(func() { doIncrement("b", 10000) })
//!     wg.Wait()
//!     fmt.Println(c.counters)
//! }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use super::common;
use gorun::prelude::*;

struct Container {
    counters: Mutex<BTreeMap<&'static str, i32>>,
}

impl Container {
    async fn inc(&self, name: &'static str) {
        let mut counters = self.counters.lock().await;
        *counters.entry(name).or_insert(0) += 1;
    }
}

async fn do_increment(c: Arc<Container>, name: &'static str, n: i32) {
    for _ in 0..n {
        c.inc(name).await;
    }
}

#[gorun::main]
pub async fn main() {
    let c = Arc::new(Container {
        counters: Mutex::new(BTreeMap::from([("a", 0), ("b", 0)])),
    });
    let wg = WaitGroup::new();
    wg.go(do_increment(c.clone(), "a", 10000));
    wg.go(do_increment(c.clone(), "a", 10000));
    wg.go(do_increment(c.clone(), "b", 10000));
    wg.wait().await;
    // Go prints a map sorted by key: map[a:20000 b:10000]
    let counters = c.counters.lock().await;
    let items: Vec<String> = counters.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    outln!("map[{}]", items.join(" "));
}
