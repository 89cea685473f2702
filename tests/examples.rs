//! Runs every lesson of the tour (`examples/tour/`) in fast mode (`GORUN_TOUR_FAST=1`
//! semantics) and checks what it prints: exactly where the Go original's output is
//! deterministic, as a multiset or under ordering constraints where goroutines race.
//!
//! The lessons are compiled into this test from their source files, each `main` starting and
//! dropping its own runtime as the tour does. Every lesson runs under a watchdog that aborts
//! the test process if it has not returned in `WATCHDOG`.

#[allow(dead_code)]
#[path = "../examples/tour/mod.rs"]
mod lessons;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use lessons::common;

/// Longest a lesson may run (fast mode) before the test process is aborted.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Aborts the process unless dropped within `WATCHDOG` (a hung lesson must not hang the run).
struct Watchdog(#[allow(dead_code)] mpsc::Sender<()>);

impl Watchdog {
    fn start(name: &'static str) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(WATCHDOG) {
                eprintln!("lesson {name} still running after {WATCHDOG:?}: aborting");
                std::process::abort();
            }
        });
        Watchdog(tx)
    }
}

/// Runs the lesson `name` in fast mode and returns its output.
fn run(name: &'static str) -> String {
    common::force_fast();
    let lesson = lessons::LESSONS
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no lesson named {name}"));
    common::capture(|| {
        let _dog = Watchdog::start(name);
        (lesson.main)();
    })
}

fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

/// Asserts that `got` and `want` hold the same lines, in any order.
fn assert_multiset(got: &[&str], want: &[String]) {
    let count = |v: Vec<&str>| {
        let mut m = BTreeMap::new();
        for s in v {
            *m.entry(s.to_string()).or_insert(0) += 1;
        }
        m
    };
    assert_eq!(
        count(got.to_vec()),
        count(want.iter().map(String::as_str).collect()),
        "got {got:#?}"
    );
}

/// Asserts that the lines of `got` that start with `prefix` appear in the order of `want`.
fn assert_subsequence(got: &[&str], prefix: &str, want: &[String]) {
    let seen: Vec<&str> = got
        .iter()
        .copied()
        .filter(|l| l.starts_with(prefix))
        .collect();
    assert_eq!(
        seen, want,
        "lines starting with {prefix:?} out of order in {got:#?}"
    );
}

fn position(got: &[&str], line: &str) -> usize {
    got.iter()
        .position(|l| *l == line)
        .unwrap_or_else(|| panic!("{line:?} missing from {got:#?}"))
}

/// `HH:MM:SS.mmm`, as `common::wall` prints.
fn is_wall_clock(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b.iter().enumerate().all(|(i, c)| match i {
            2 | 5 => *c == b':',
            8 => *c == b'.',
            _ => c.is_ascii_digit(),
        })
}

fn strings(v: impl IntoIterator<Item = impl ToString>) -> Vec<String> {
    v.into_iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_lesson_has_a_test_here() {
    // Keep this list in step with the #[test]s below: a new lesson needs a check.
    let tested = [
        "lesson_hello_goroutine",
        "lesson_anonymous_goroutine",
        "lesson_goroutine_args",
        "lesson_print_count",
        "lesson_count_sheep_fish",
        "lesson_producer_close",
        "lesson_workers_defer",
        "lesson_send_data",
        "lesson_parallel_sleep",
        "lesson_panic_recover",
        "gobyexample_goroutines",
        "gobyexample_channels",
        "gobyexample_channel_buffering",
        "gobyexample_channel_synchronization",
        "gobyexample_channel_directions",
        "gobyexample_select",
        "gobyexample_timeouts",
        "gobyexample_non_blocking",
        "gobyexample_closing_channels",
        "gobyexample_range_over_channels",
        "gobyexample_timers",
        "gobyexample_tickers",
        "gobyexample_worker_pools",
        "gobyexample_waitgroups",
        "gobyexample_rate_limiting",
        "gobyexample_atomic_counters",
        "gobyexample_mutexes",
        "gobyexample_stateful_goroutines",
        "gobyexample_context",
        "gopl_spinner",
        "gopl_pipeline",
        "gopl_du",
        "gopl_crawl",
        "gopl_netcat",
        "gopl_chat_client",
    ];
    let names: Vec<&str> = lessons::LESSONS.iter().map(|l| l.name).collect();
    assert_eq!(names, tested);
}

#[test]
fn fast_mode_shortens_lesson_durations_tenfold() {
    common::force_fast();
    assert!(common::fast());
    assert_eq!(common::secs(1), Duration::from_millis(100));
    assert_eq!(common::millis(500), Duration::from_millis(50));
    assert_eq!(
        common::unscaled(Duration::from_millis(100)),
        Duration::from_secs(1)
    );
}

// ---- the first lessons ----------------------------------------------------------------------

#[test]
fn lesson_hello_goroutine() {
    let out = run("lesson_hello_goroutine");
    assert_eq!(out, "Hello world goroutine\nmain function\n");
}

#[test]
fn lesson_anonymous_goroutine() {
    let out = run("lesson_anonymous_goroutine");
    assert_eq!(out, "Hello from an anonymous goroutine\nmain done\n");
}

#[test]
fn lesson_goroutine_args() {
    let out = run("lesson_goroutine_args");
    let got = lines(&out);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert_multiset(
        &got[..3],
        &strings(["goroutine 1", "goroutine 2", "goroutine 3"]),
    );
    assert_eq!(got[3], "done");
}

#[test]
fn lesson_print_count() {
    let out = run("lesson_print_count");
    let want: String = [8, 6, 7, 5, 3, 0, 9]
        .iter()
        .map(|n| format!("count: {n}\n"))
        .collect::<String>()
        + "End of main\n";
    assert_eq!(out, want);
}

#[test]
fn lesson_count_sheep_fish() {
    let out = run("lesson_count_sheep_fish");
    let got = lines(&out);
    let sheep = strings((1..=5).map(|i| format!("{i} sheep")));
    let fish = strings((1..=5).map(|i| format!("{i} fish")));
    assert_multiset(&got, &[sheep.clone(), fish.clone()].concat());
    // Each counter counts in order; the two interleave as the scheduler pleases.
    let only = |thing: &str| -> Vec<String> { strings(got.iter().filter(|l| l.ends_with(thing))) };
    assert_eq!(only("sheep"), sheep);
    assert_eq!(only("fish"), fish);
}

#[test]
fn lesson_producer_close() {
    let out = run("lesson_producer_close");
    assert_eq!(
        out,
        "received 0\nreceived 1\nreceived 4\nreceived 9\nreceived 16\nchannel closed\n"
    );
}

#[test]
fn lesson_workers_defer() {
    let out = run("lesson_workers_defer");
    let got = lines(&out);
    assert_eq!(got.len(), 5, "{got:#?}");
    assert_multiset(
        &got[..4],
        &strings((1..=4).map(|i| format!("worker {i} finished"))),
    );
    assert_eq!(got[4], "results: [1, 4, 9, 16]");
}

#[test]
fn lesson_send_data() {
    let out = run("lesson_send_data");
    assert_eq!(out, "Washington Tripoli London Beijing Tokyo \n");
}

#[test]
fn lesson_parallel_sleep() {
    let out = run("lesson_parallel_sleep");
    let got = lines(&out);
    assert_eq!(got.len(), 6, "{got:#?}");
    assert_multiset(
        &got[..5],
        &strings((1..=5).map(|i| format!("task {i} done"))),
    );
    let secs: f64 = got[5]
        .strip_prefix("5 tasks took ")
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad summary line {:?}", got[5]));
    // Five one-second sleeps in parallel: about one second, far from five.
    assert!((1.0..3.0).contains(&secs), "took {secs}s");
}

#[test]
fn lesson_panic_recover() {
    let out = run("lesson_panic_recover");
    assert_eq!(out, "recovered: something went wrong\nmain keeps running\n");
}

// ---- Go by Example --------------------------------------------------------------------------

#[test]
fn gobyexample_goroutines() {
    let out = run("gobyexample_goroutines");
    let got = lines(&out);
    assert_eq!(got.len(), 8, "{got:#?}");
    assert_eq!(got[..3], ["direct : 0", "direct : 1", "direct : 2"]);
    assert_multiset(
        &got[3..7],
        &strings(["goroutine : 0", "goroutine : 1", "goroutine : 2", "going"]),
    );
    assert_subsequence(
        &got,
        "goroutine",
        &strings(["goroutine : 0", "goroutine : 1", "goroutine : 2"]),
    );
    assert_eq!(got[7], "done");
}

#[test]
fn gobyexample_channels() {
    assert_eq!(run("gobyexample_channels"), "ping\n");
}

#[test]
fn gobyexample_channel_buffering() {
    assert_eq!(run("gobyexample_channel_buffering"), "buffered\nchannel\n");
}

#[test]
fn gobyexample_channel_synchronization() {
    assert_eq!(
        run("gobyexample_channel_synchronization"),
        "working...done\n"
    );
}

#[test]
fn gobyexample_channel_directions() {
    assert_eq!(run("gobyexample_channel_directions"), "passed message\n");
}

#[test]
fn gobyexample_select() {
    assert_eq!(run("gobyexample_select"), "received one\nreceived two\n");
}

#[test]
fn gobyexample_timeouts() {
    assert_eq!(run("gobyexample_timeouts"), "timeout 1\nresult 2\n");
}

#[test]
fn gobyexample_non_blocking() {
    assert_eq!(
        run("gobyexample_non_blocking"),
        "no message received\nno message sent\nno activity\n"
    );
}

#[test]
fn gobyexample_closing_channels() {
    let out = run("gobyexample_closing_channels");
    let got = lines(&out);
    let sent = strings((1..=3).map(|j| format!("sent job {j}")));
    let received = strings((1..=3).map(|j| format!("received job {j}")));
    let mut want = [sent.clone(), received.clone()].concat();
    want.extend(strings([
        "sent all jobs",
        "received all jobs",
        "received more jobs: false",
    ]));
    assert_multiset(&got, &want);
    assert_subsequence(&got, "sent job", &sent);
    assert_subsequence(&got, "received job", &received);
    // Job j is sent before it is received, hence printed before job j+1 is received.
    for j in 1..3 {
        assert!(
            position(&got, &format!("sent job {j}"))
                < position(&got, &format!("received job {}", j + 1))
        );
    }
    assert!(position(&got, "received job 3") < position(&got, "received all jobs"));
    assert!(position(&got, "sent job 3") < position(&got, "sent all jobs"));
    assert_eq!(*got.last().unwrap(), "received more jobs: false");
}

#[test]
fn gobyexample_range_over_channels() {
    assert_eq!(run("gobyexample_range_over_channels"), "one\ntwo\n");
}

#[test]
fn gobyexample_timers() {
    assert_eq!(
        run("gobyexample_timers"),
        "Timer 1 fired\nTimer 2 stopped\n"
    );
}

#[test]
fn gobyexample_tickers() {
    let out = run("gobyexample_tickers");
    let got = lines(&out);
    let (last, ticks) = got.split_last().expect("no output");
    assert_eq!(*last, "Ticker stopped");
    // Go prints three ticks (500 ms apart, stopped at 1600 ms); a loaded machine may drop one,
    // as a Go ticker does for a slow reader, or let a fourth in before the stop.
    assert!((2..=4).contains(&ticks.len()), "{got:#?}");
    for t in ticks {
        let at = t
            .strip_prefix("Tick at ")
            .unwrap_or_else(|| panic!("bad line {t:?}"));
        assert!(is_wall_clock(at), "bad time in {t:?}");
    }
}

#[test]
fn gobyexample_worker_pools() {
    let out = run("gobyexample_worker_pools");
    let got = lines(&out);
    assert_eq!(got.len(), 10, "{got:#?}");
    // Each job is started once and finished once, by the same worker, in that order.
    let mut by_job = BTreeMap::new();
    for (i, l) in got.iter().enumerate() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let (worker, what, job) = match w[..] {
            ["worker", id, what, "job", j] => (id, what, j),
            _ => panic!("bad line {l:?}"),
        };
        assert!(["1", "2", "3"].contains(&worker), "{l:?}");
        by_job
            .entry(job.to_string())
            .or_insert_with(Vec::new)
            .push((i, worker, what));
    }
    assert_eq!(by_job.keys().cloned().collect::<Vec<_>>(), strings(1..=5));
    for (job, events) in &by_job {
        assert_eq!(events.len(), 2, "job {job}: {events:?}");
        assert_eq!(
            (events[0].2, events[1].2),
            ("started", "finished"),
            "job {job}"
        );
        assert_eq!(events[0].1, events[1].1, "job {job} changed workers");
    }
    // A worker does one job at a time.
    for worker in ["1", "2", "3"] {
        let mine: Vec<&str> = got
            .iter()
            .filter(|l| l.starts_with(&format!("worker {worker} ")))
            .map(|l| l.split_whitespace().nth(2).unwrap())
            .collect();
        for pair in mine.chunks(2) {
            assert_eq!(pair, ["started", "finished"], "worker {worker}: {mine:?}");
        }
    }
}

#[test]
fn gobyexample_waitgroups() {
    let out = run("gobyexample_waitgroups");
    let got = lines(&out);
    let starting = strings((1..=5).map(|i| format!("Worker {i} starting")));
    let done = strings((1..=5).map(|i| format!("Worker {i} done")));
    assert_eq!(got.len(), 10, "{got:#?}");
    // All five start at once; each finishes a (shortened) second later.
    assert_multiset(&got[..5], &starting);
    assert_multiset(&got[5..], &done);
}

#[test]
fn gobyexample_rate_limiting() {
    let out = run("gobyexample_rate_limiting");
    let got = lines(&out);
    assert_eq!(got.len(), 10, "{got:#?}");
    for (i, l) in got.iter().enumerate() {
        let rest = l
            .strip_prefix(&format!("request {} ", i % 5 + 1))
            .unwrap_or_else(|| panic!("line {i} is {l:?}"));
        assert!(is_wall_clock(rest), "bad time in {l:?}");
    }
}

#[test]
fn gobyexample_atomic_counters() {
    assert_eq!(run("gobyexample_atomic_counters"), "ops: 50000\n");
}

#[test]
fn gobyexample_mutexes() {
    assert_eq!(run("gobyexample_mutexes"), "map[a:20000 b:10000]\n");
}

#[test]
fn gobyexample_stateful_goroutines() {
    let out = run("gobyexample_stateful_goroutines");
    let got = lines(&out);
    assert_eq!(got.len(), 2, "{got:#?}");
    let count = |line: &str, prefix: &str| -> u64 {
        line.strip_prefix(prefix)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad line {line:?}"))
    };
    let reads = count(got[0], "readOps: ");
    let writes = count(got[1], "writeOps: ");
    // 100 readers against 10 writers, all served by the one state-owning goroutine.
    assert!(writes > 0, "{got:?}");
    assert!(reads > writes, "{got:?}");
}

#[test]
fn gobyexample_context() {
    assert_eq!(
        run("gobyexample_context"),
        "server: hello handler started\n\
         server: context canceled\n\
         server: hello handler ended\n\
         client: 500 Internal Server Error: context canceled\n"
    );
}

// ---- The Go Programming Language, chapter 8 -------------------------------------------------

#[test]
fn gopl_spinner() {
    let out = run("gopl_spinner");
    let (frames, last) = out.rsplit_once('\r').expect("no \\r in output");
    assert_eq!(last, "Fibonacci(27) = 196418\n");
    for frame in frames.split('\r').skip(1) {
        assert!(
            ["-", "\\", "|", "/"].contains(&frame),
            "bad frame {frame:?}"
        );
    }
    assert!(frames.is_empty() || frames.starts_with('\r'), "{out:?}");
}

#[test]
fn gopl_pipeline() {
    let out = run("gopl_pipeline");
    let want: String = (0..100).map(|x| format!("{}\n", x * x)).collect();
    assert_eq!(out, want);
}

#[test]
fn gopl_du() {
    let out = run("gopl_du");
    let got = lines(&out);
    let (last, progress) = got.split_last().expect("no output");
    // The demo tree: 12 files of 25 000 bytes and 2 of 50 000.
    assert_eq!(*last, "14 files  0.4 MB");
    for l in progress {
        let (files, mb) = l.split_once(" files  ").unwrap_or_else(|| panic!("{l:?}"));
        assert!(files.parse::<u64>().is_ok() && mb.ends_with(" MB"), "{l:?}");
    }
}

#[test]
fn gopl_crawl() {
    let out = run("gopl_crawl");
    let got = lines(&out);
    let (last, urls) = got.split_last().expect("no output");
    // Every page reachable from the root, each crawled exactly once.
    let pages = strings(lessons::gopl_crawl::WEB.iter().map(|(page, _)| page));
    assert_multiset(urls, &pages);
    assert_eq!(urls[0], "https://golang.org/");
    let busiest: usize = last
        .strip_prefix(&format!("crawled {} pages, at most ", pages.len()))
        .and_then(|s| {
            s.strip_suffix(&format!(
                " fetches at once (limit {})",
                lessons::gopl_crawl::LIMIT
            ))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad summary {last:?}"));
    assert!(
        (1..=lessons::gopl_crawl::LIMIT).contains(&busiest),
        "{last:?}"
    );
}

#[test]
fn gopl_netcat() {
    // The canned input (the lesson reads real stdin only when the tour runs it alone).
    assert_eq!(
        run("gopl_netcat"),
        "\t HELLO?\n\t Hello?\n\t hello?\n\
         \t IS THERE ANYBODY THERE?\n\t Is there anybody there?\n\t is there anybody there?\n\
         done\n"
    );
}

#[test]
fn gopl_chat_client() {
    let out = run("gopl_chat_client");
    let got = lines(&out);
    let who = got
        .first()
        .and_then(|l| l.strip_prefix("You are "))
        .unwrap_or_else(|| panic!("no name first: {got:#?}"));
    assert!(who.starts_with("127.0.0.1:"), "{who}");
    assert_eq!(
        got[1..],
        [
            format!("{who}: Hi everyone!"),
            format!("{who}: Anybody here?"),
            "done".to_string()
        ],
        "{got:#?}"
    );
}
