//! sendData and getData ("The Way to Go", 14.2): one goroutine sends five cities, another
//! prints them as they arrive; `main` only sleeps.
//!
//! ```go
//! func sendData(ch chan string) {
//!     ch <- "Washington"
//!     ch <- "Tripoli"
//!     ch <- "London"
//!     ch <- "Beijing"
//!     ch <- "Tokyo"
//! }
//!
//! func getData(ch chan string) {
//!     var input string
//!     for {
//!         input = <-ch
//!         fmt.Printf("%s ", input)
//!     }
//! }
//!
//! func main() {
//!     ch := make(chan string)
//!     go sendData(ch)
//!     go getData(ch)
//!     time.Sleep(1e9)
//!     fmt.Println()
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

async fn send_data(ch: Chan<&'static str>) {
    for city in ["Washington", "Tripoli", "London", "Beijing", "Tokyo"] {
        ch.send(city).await.unwrap();
    }
}

async fn get_data(ch: Chan<&'static str>) {
    loop {
        let input = ch.recv().await.unwrap();
        out!("{input} ");
    }
}

#[gorun::main]
pub async fn main() {
    let ch = chan(0);
    go(send_data(ch.clone()));
    go(get_data(ch.clone())); // still blocked in recv when main returns, as in Go
    sleep(secs(1)).await;
    outln!();
}
