//! Go by Example: Non-Blocking Channel Operations: `select` with `default`.
//!
//! ```go
//! func main() {
//!     messages := make(chan string)
//!     signals := make(chan bool)
//!
//!     select {
//!     case msg := <-messages:
//!         fmt.Println("received message", msg)
//!     default:
//!         fmt.Println("no message received")
//!     }
//!
//!     msg := "hi"
//!     select {
//!     case messages <- msg:
//!         fmt.Println("sent message", msg)
//!     default:
//!         fmt.Println("no message sent")
//!     }
//!
//!     select {
//!     case msg := <-messages:
//!         fmt.Println("received message", msg)
//!     case sig := <-signals:
//!         fmt.Println("received signal", sig)
//!     default:
//!         fmt.Println("no activity")
//!     }
//! }
//! ```

use super::common;
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let messages = chan::<&str>(0);
    let signals = chan::<bool>(0);

    select! {
        recv(messages) -> msg => outln!("received message {}", msg.unwrap()),
        default => outln!("no message received"),
    }

    // Unbuffered and nobody receiving: the send is not ready, so default runs.
    let msg = "hi";
    select! {
        send(messages, msg) -> _ => outln!("sent message {msg}"),
        default => outln!("no message sent"),
    }

    select! {
        recv(messages) -> msg => outln!("received message {}", msg.unwrap()),
        recv(signals) -> sig => outln!("received signal {}", sig.unwrap()),
        default => outln!("no activity"),
    }
}
