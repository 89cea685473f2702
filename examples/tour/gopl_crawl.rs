//! "The Go Programming Language" §8.6, crawl2: a breadth-first crawl where every link gets a
//! goroutine, a buffered channel of 20 tokens bounds how many fetches run at once, and a
//! counter `n` of pending worklist sends tells `main` when to stop. The web is an in-memory
//! link graph with a 10 ms "fetch", and the limit is 3 so the bound is visible.
//!
//! ```go
//! var tokens = make(chan struct{}, 20)
//!
//! func crawl(url string) []string {
//!     fmt.Println(url)
//!     tokens <- struct{}{} // acquire a token
//!     list, err := links.Extract(url)
//!     <-tokens // release the token
//!     if err != nil {
//!         log.Print(err)
//!     }
//!     return list
//! }
//!
//! func main() {
//!     worklist := make(chan []string)
//!     var n int // number of pending sends to worklist
//!     n++
//!     go func() { worklist <- os.Args[1:] }()
//!     seen := make(map[string]bool)
//!     for ; n > 0; n-- {
//!         list := <-worklist
//!         for _, link := range list {
//!             if !seen[link] {
//!                 seen[link] = true
//!                 n++
//!                 go func(link string) {
//!                     worklist <- crawl(link)
//!                 }(link)
//!             }
//!         }
//!     }
//! }
//! ```

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::common::{self, millis};
use gorun::prelude::*;

/// How many fetches may run at once.
pub const LIMIT: usize = 3;

/// The in-memory web: each page and the pages it links to.
pub const WEB: &[(&str, &[&str])] = &[
    (
        "https://golang.org/",
        &[
            "https://golang.org/doc/",
            "https://golang.org/pkg/",
            "https://golang.org/blog/",
        ],
    ),
    (
        "https://golang.org/doc/",
        &[
            "https://golang.org/doc/tour/",
            "https://golang.org/doc/effective_go",
            "https://golang.org/",
        ],
    ),
    (
        "https://golang.org/pkg/",
        &[
            "https://golang.org/pkg/sync/",
            "https://golang.org/pkg/time/",
            "https://golang.org/pkg/context/",
        ],
    ),
    (
        "https://golang.org/blog/",
        &[
            "https://golang.org/blog/pipelines",
            "https://golang.org/doc/",
        ],
    ),
    (
        "https://golang.org/doc/tour/",
        &["https://golang.org/doc/tour/concurrency"],
    ),
    (
        "https://golang.org/doc/tour/concurrency",
        &["https://golang.org/pkg/sync/"],
    ),
    ("https://golang.org/doc/effective_go", &[]),
    (
        "https://golang.org/pkg/sync/",
        &["https://golang.org/pkg/sync/atomic/"],
    ),
    ("https://golang.org/pkg/sync/atomic/", &[]),
    ("https://golang.org/pkg/time/", &["https://golang.org/pkg/"]),
    (
        "https://golang.org/pkg/context/",
        &["https://golang.org/blog/context"],
    ),
    (
        "https://golang.org/blog/context",
        &["https://golang.org/pkg/context/"],
    ),
    (
        "https://golang.org/blog/pipelines",
        &["https://golang.org/blog/context"],
    ),
];

/// Fetches a page and returns its links, as `links.Extract` would (after a simulated delay).
async fn extract(url: &str) -> Result<Vec<String>, String> {
    sleep(millis(100)).await;
    WEB.iter()
        .find(|(page, _)| *page == url)
        .map(|(_, links)| links.iter().map(|l| l.to_string()).collect())
        .ok_or_else(|| format!("getting {url}: 404 Not Found"))
}

async fn crawl(
    url: String,
    tokens: Chan<()>,
    busy: Arc<(AtomicUsize, AtomicUsize)>,
) -> Vec<String> {
    outln!("{url}");
    tokens.send(()).await.unwrap(); // acquire a token
    let now = busy.0.fetch_add(1, Ordering::SeqCst) + 1;
    busy.1.fetch_max(now, Ordering::SeqCst);
    let list = extract(&url).await;
    busy.0.fetch_sub(1, Ordering::SeqCst);
    tokens.recv().await; // release the token
    list.unwrap_or_else(|err| {
        eprintln!("{err}");
        Vec::new()
    })
}

#[gorun::main]
pub async fn main() {
    let tokens = chan::<()>(LIMIT);
    // (fetches running now, the most ever running at once): not in the Go original.
    let busy = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let worklist = chan::<Vec<String>>(0);
    let mut n = 0; // number of pending sends to worklist
    n += 1;
    let w = worklist.clone();
    go(async move {
        w.send(vec!["https://golang.org/".to_string()])
            .await
            .unwrap()
    });
    let mut seen = HashSet::new();
    while n > 0 {
        let list = worklist.recv().await.unwrap();
        for link in list {
            if seen.insert(link.clone()) {
                n += 1;
                let (w, tokens, busy) = (worklist.clone(), tokens.clone(), busy.clone());
                go(async move { w.send(crawl(link, tokens, busy).await).await.unwrap() });
            }
        }
        n -= 1;
    }
    outln!(
        "crawled {} pages, at most {} fetches at once (limit {LIMIT})",
        seen.len(),
        busy.1.load(Ordering::SeqCst)
    );
}
