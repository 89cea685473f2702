//! Go by Example: Channel Directions. `chan<- string` is `Sender<String>`, `<-chan string` is
//! `Receiver<String>`: the compiler rejects a receive on a `Sender`, as Go's does.
//!
//! ```go
//! func ping(pings chan<- string, msg string) {
//!     pings <- msg
//! }
//!
//! func pong(pings <-chan string, pongs chan<- string) {
//!     msg := <-pings
//!     pongs <- msg
//! }
//!
//! func main() {
//!     pings := make(chan string, 1)
//!     pongs := make(chan string, 1)
//!     ping(pings, "passed message")
//!     pong(pings, pongs)
//!     fmt.Println(<-pongs)
//! }
//! ```

use super::common;
use gorun::chan::{Receiver, Sender};
use gorun::prelude::*;

async fn ping(pings: &Sender<String>, msg: &str) {
    pings.send(msg.to_string()).await.unwrap();
}

async fn pong(pings: &Receiver<String>, pongs: &Sender<String>) {
    let msg = pings.recv().await.unwrap();
    pongs.send(msg).await.unwrap();
}

#[gorun::main]
pub async fn main() {
    let pings = chan::<String>(1);
    let pongs = chan::<String>(1);
    ping(&pings.sender(), "passed message").await;
    pong(&pings.receiver(), &pongs.sender()).await;
    outln!("{}", pongs.recv().await.unwrap());
}
