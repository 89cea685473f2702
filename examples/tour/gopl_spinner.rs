//! "The Go Programming Language" §8.1, spinner: a goroutine animates a spinner while `main`
//! computes a slow Fibonacci number. Go preempts a goroutine that computes; gorun's goroutines
//! are cooperative, so the computation goes to `go_blocking` (the blocking pool), leaving the
//! workers free for the spinner — the one change from the Go shape.
//!
//! ```go
//! func main() {
//!     go spinner(100 * time.Millisecond)
//!     const n = 45
//!     fibN := fib(n) // slow
//!     fmt.Printf("\rFibonacci(%d) = %d\n", n, fibN)
//! }
//!
//! func spinner(delay time.Duration) {
//!     for {
//!         for _, r := range `-\|/` {
//!             fmt.Printf("\r%c", r)
//!             time.Sleep(delay)
//!         }
//!     }
//! }
//!
//! func fib(x int) int {
//!     if x < 2 {
//!         return x
//!     }
//!     return fib(x-1) + fib(x-2)
//! }
//! ```

use std::time::Duration;

use super::common::{self, fast, millis};
use gorun::prelude::*;

async fn spinner(delay: Duration) {
    loop {
        for r in ['-', '\\', '|', '/'] {
            out!("\r{r}");
            sleep(delay).await;
        }
    }
}

fn fib(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    fib(x - 1) + fib(x - 2)
}

#[gorun::main]
pub async fn main() {
    go(spinner(millis(100)));
    let n = if fast() { 27 } else { 40 }; // the book's 45 takes minutes on a laptop
    let fib_n = go_blocking(move || fib(n)).await.unwrap();
    outln!("\rFibonacci({n}) = {fib_n}");
}
