//! "The Go Programming Language" §8.8, du3 (with du2's progress ticker): one goroutine per
//! directory, a channel used as a counting semaphore to bound open directories, a WaitGroup
//! whose `Wait` closes the sizes channel, and a `select` between file sizes and a ticker.
//!
//! Without arguments it walks a small tree it creates in a temp directory (so the output is
//! known); `cargo run --example tour -- gopl_du DIR...` walks the given directories.
//!
//! ```go
//! var sema = make(chan struct{}, 20)
//!
//! func dirents(dir string) []os.FileInfo {
//!     sema <- struct{}{}        // acquire token
//!     defer func() { <-sema }() // release token
//!     entries, err := ioutil.ReadDir(dir)
//!     // ...
//!     return entries
//! }
//!
//! func walkDir(dir string, n *sync.WaitGroup, fileSizes chan<- int64) {
//!     defer n.Done()
//!     for _, entry := range dirents(dir) {
//!         if entry.IsDir() {
//!             n.Add(1)
//!             go walkDir(filepath.Join(dir, entry.Name()), n, fileSizes)
//!         } else {
//!             fileSizes <- entry.Size()
//!         }
//!     }
//! }
//!
//! func main() {
//!     fileSizes := make(chan int64)
//!     var n sync.WaitGroup
//!     for _, root := range roots {
//!         n.Add(1)
//!         go walkDir(root, &n, fileSizes)
//!     }
//!     go func() { n.Wait(); close(fileSizes) }()
//!     tick := time.Tick(500 * time.Millisecond)
//!     var nfiles, nbytes int64
//! loop:
//!     for {
//!         select {
//!         case size, ok := <-fileSizes:
//!             if !ok {
//!                 break loop // fileSizes was closed
//!             }
//!             nfiles++
//!             nbytes += size
//!         case <-tick:
//!             printDiskUsage(nfiles, nbytes)
//!         }
//!     }
//!     printDiskUsage(nfiles, nbytes) // final totals
//! }
//! ```

use std::path::{Path, PathBuf};

use super::common::{self, defer, millis};
use gorun::chan::Sender;
use gorun::prelude::*;

/// The entries of `dir`, read on the blocking pool while holding one of `sema`'s tokens.
async fn dirents(dir: PathBuf, sema: Chan<()>) -> Vec<(PathBuf, bool, u64)> {
    sema.send(()).await.unwrap(); // acquire token
    let release = sema.clone();
    let _release = defer(move || {
        let _ = release.try_recv(); // release token
    });
    let read = go_blocking(move || -> std::io::Result<Vec<(PathBuf, bool, u64)>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            entries.push((entry.path(), meta.is_dir(), meta.len()));
        }
        Ok(entries)
    })
    .await
    .unwrap();
    read.unwrap_or_else(|err| {
        eprintln!("du: {err}");
        Vec::new()
    })
}

fn walk_dir(
    dir: PathBuf,
    n: WaitGroup,
    file_sizes: Sender<u64>,
    sema: Chan<()>,
) -> futures::future::BoxFuture<'static, ()> {
    // Boxed: an async fn that spawns itself needs a named, sized future type.
    Box::pin(async move {
        let _done = defer(|| n.done());
        for (path, is_dir, size) in dirents(dir, sema.clone()).await {
            if is_dir {
                n.add(1);
                go(walk_dir(path, n.clone(), file_sizes.clone(), sema.clone()));
            } else {
                file_sizes.send(size).await.unwrap();
            }
        }
    })
}

fn print_disk_usage(nfiles: u64, nbytes: u64) {
    outln!("{nfiles} files  {:.1} MB", nbytes as f64 / 1e6);
}

/// Creates the demo tree: 3 directories × 4 files of 25 000 bytes each, plus 2 nested.
fn make_demo_tree() -> std::io::Result<PathBuf> {
    let root = std::env::temp_dir().join(format!("gorun-du-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for d in ["a", "b", "c", "a/nested"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    for d in ["a", "b", "c"] {
        for f in 0..4 {
            std::fs::write(root.join(d).join(format!("f{f}")), vec![0u8; 25_000])?;
        }
    }
    for f in 0..2 {
        std::fs::write(
            root.join("a/nested").join(format!("g{f}")),
            vec![0u8; 50_000],
        )?;
    }
    Ok(root)
}

#[gorun::main]
pub async fn main() {
    let args = common::args();
    let demo = if args.is_empty() {
        Some(make_demo_tree().expect("du: creating the demo tree"))
    } else {
        None
    };
    let roots: Vec<PathBuf> = match &demo {
        Some(root) => vec![root.clone()],
        None => args.iter().map(PathBuf::from).collect(),
    };

    let sema = chan::<()>(20);
    let file_sizes = chan::<u64>(0);
    let n = WaitGroup::new();
    for root in roots {
        n.add(1);
        go(walk_dir(root, n.clone(), file_sizes.sender(), sema.clone()));
    }
    let (n2, fs2) = (n.clone(), file_sizes.clone());
    go(async move {
        n2.wait().await;
        fs2.close();
    });
    let tick = tick(millis(500));
    let (mut nfiles, mut nbytes) = (0u64, 0u64);
    loop {
        select! {
            recv(file_sizes) -> size => {
                let Some(size) = size else { break }; // fileSizes was closed
                nfiles += 1;
                nbytes += size;
            },
            recv(tick) -> _ => print_disk_usage(nfiles, nbytes),
        }
    }
    print_disk_usage(nfiles, nbytes); // final totals
    if let Some(root) = demo {
        let _ = std::fs::remove_dir_all(Path::new(&root));
    }
}
