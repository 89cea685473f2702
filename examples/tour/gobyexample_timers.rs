//! Go by Example: Timers. A timer can be stopped before it fires; `Stop` does not close its
//! channel, so the goroutine waiting on `timer2.C` stays blocked until `main` returns.
//!
//! ```go
//! func main() {
//!     timer1 := time.NewTimer(2 * time.Second)
//!     <-timer1.C
//!     fmt.Println("Timer 1 fired")
//!
//!     timer2 := time.NewTimer(time.Second)
//!     go func() {
//!         <-timer2.C
//!         fmt.Println("Timer 2 fired")
//!     }()
//!     stop2 := timer2.Stop()
//!     if stop2 {
//!         fmt.Println("Timer 2 stopped")
//!     }
//!     time.Sleep(2 * time.Second)
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;
use gorun::time::Timer;

#[gorun::main]
pub async fn main() {
    let timer1 = Timer::new(secs(2));
    timer1.c().recv().await;
    outln!("Timer 1 fired");

    let timer2 = Timer::new(secs(1));
    let c = timer2.c().clone();
    go(async move {
        c.recv().await;
        outln!("Timer 2 fired");
    });
    let stop2 = timer2.stop();
    if stop2 {
        outln!("Timer 2 stopped");
    }
    sleep(secs(2)).await;
}
