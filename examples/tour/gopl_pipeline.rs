//! "The Go Programming Language" §8.4.3, pipeline3: counter → squarer → printer, each stage a
//! goroutine (or `main`) joined by channels, with one-direction channel types in the
//! signatures. Each stage closes its output when its input is exhausted.
//!
//! ```go
//! func counter(out chan<- int) {
//!     for x := 0; x < 100; x++ {
//!         out <- x
//!     }
//!     close(out)
//! }
//!
//! func squarer(out chan<- int, in <-chan int) {
//!     for v := range in {
//!         out <- v * v
//!     }
//!     close(out)
//! }
//!
//! func printer(in <-chan int) {
//!     for v := range in {
//!         fmt.Println(v)
//!     }
//! }
//!
//! func main() {
//!     naturals := make(chan int)
//!     squares := make(chan int)
//!     go counter(naturals)
//!     go squarer(squares, naturals)
//!     printer(squares)
//! }
//! ```

use super::common;
use gorun::chan::{Receiver, Sender};
use gorun::prelude::*;

async fn counter(out: Sender<i32>) {
    for x in 0..100 {
        out.send(x).await.unwrap();
    }
    out.close();
}

async fn squarer(out: Sender<i32>, input: Receiver<i32>) {
    while let Some(v) = input.recv().await {
        out.send(v * v).await.unwrap();
    }
    out.close();
}

async fn printer(input: Receiver<i32>) {
    while let Some(v) = input.recv().await {
        outln!("{v}");
    }
}

#[gorun::main]
pub async fn main() {
    let naturals = chan::<i32>(0);
    let squares = chan::<i32>(0);
    go(counter(naturals.sender()));
    go(squarer(squares.sender(), naturals.receiver()));
    printer(squares.receiver()).await;
}
