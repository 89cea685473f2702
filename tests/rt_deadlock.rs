//! Deadlock detection: Go's deadlocking programs end with Go's message, quickly; programs that
//! are only waiting (on a plain thread, a timer) are left alone.
//!
//! `harness = false`: each scenario runs in a child process of this binary whose only threads
//! are gorun's and the main thread, as in a real `#[gorun::main]` program.

use gorun::chan::chan;
use gorun::runtime::Builder;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MSG: &str = "all goroutines are asleep - deadlock!";

fn rt(detect: bool) -> gorun::runtime::Runtime {
    Builder::new()
        .workers(2)
        .detect_deadlock(detect)
        .build()
        .unwrap()
}

/// Waits for a value a plain thread sends 400 ms later: not a deadlock (the thread could
/// always wake it).
async fn fed_later() {
    let c = chan::<i32>(0);
    let tx = c.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        tx.send_blocking(7).unwrap();
    });
    assert_eq!(c.recv().await, Some(7));
    println!("received");
}

/// The child side: run one scenario.
fn child(name: &str) {
    match name {
        "unbuffered_send_in_main" => rt(true).block_on(async {
            let c = chan::<i32>(0);
            let _ = c.send(1).await; // nobody receives
        }),
        "waitgroup_never_done" => rt(true).block_on(async {
            let never = gorun::sync::WaitGroup::new();
            never.add(1);
            let workers = gorun::sync::WaitGroup::new();
            for _ in 0..3 {
                let never = never.clone();
                workers.go(async move { never.wait().await });
            }
            workers.wait().await;
        }),
        "empty_select_in_main" => rt(true).block_on(async {
            gorun::select! {}
        }),
        "recv_in_goroutines_and_main" => rt(true).block_on(async {
            let c = chan::<i32>(0);
            for _ in 0..4 {
                let c = c.clone();
                gorun::go(async move { c.recv().await });
            }
            c.recv().await;
        }),
        // What `#[gorun::main]` expands to: the body is goroutine 1.
        "main_goroutine_recv_forever" => rt(true).__run_main(async {
            let c = chan::<i32>(0);
            for _ in 0..2 {
                let c = c.clone();
                gorun::go(async move { c.send(1).await });
            }
            c.recv().await;
            c.recv().await;
            c.recv().await; // a third value never comes
        }),
        "main_goroutine_fed_later_by_a_plain_thread" => rt(true).__run_main(fed_later()),
        "fed_later_by_a_plain_thread" => rt(true).block_on(fed_later()),
        "waiting_on_a_sleeping_goroutine" => rt(true).block_on(async {
            let c = chan::<i32>(0);
            let tx = c.clone();
            gorun::go(async move {
                gorun::time::sleep(Duration::from_millis(400)).await;
                tx.send(7).await.unwrap();
            });
            assert_eq!(c.recv().await, Some(7));
            println!("received");
        }),
        "sigquit_chained" => {
            extern "C" fn earlier(_: libc::c_int) {
                let msg = b"earlier SIGQUIT handler ran\n";
                // SAFETY: write(2) is async-signal-safe; `msg` is a valid buffer.
                unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
            }
            // SAFETY: a zeroed sigaction with a one-argument handler and an empty mask is valid.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = earlier as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(libc::SIGQUIT, &sa, std::ptr::null_mut());
            }
            child("sigquit_dump");
        }
        "sigquit_dump" => rt(true).block_on(async {
            let c = chan::<i32>(0);
            let c2 = c.clone();
            gorun::go(async move { c2.recv().await });
            // A pending timer: not a deadlock, just waiting for the signal.
            gorun::time::sleep(Duration::from_secs(30)).await;
            c.close();
        }),
        "blocking_job_of_a_shut_down_runtime" => {
            // A job still running on a runtime that was shut down (its thread was given up
            // on, not stopped) will complete its JoinHandle: not a deadlock.
            let first = rt(true);
            let (started_tx, started_rx) = std::sync::mpsc::channel();
            let h = first.handle().go_blocking(move || {
                started_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_secs(1));
                42
            });
            started_rx.recv().unwrap();
            first.shutdown_timeout(Duration::from_millis(10));
            assert_eq!(rt(true).block_on(h).unwrap(), 42);
            println!("received");
        }
        "detection_off" => rt(false).block_on(async {
            let c = chan::<i32>(0);
            let _ = c.send(1).await;
        }),
        "waiting_for_stdin" => rt(true).block_on(async {
            use futures::io::AsyncReadExt;
            let mut s = String::new();
            gorun::io::stdin().read_to_string(&mut s).await.unwrap();
            println!("received {s}");
        }),
        "waiting_for_ctrl_c" => rt(true).block_on(async {
            let ctrl_c = gorun::signal::ctrl_c();
            println!("ready");
            ctrl_c.await.unwrap();
            println!("received");
        }),
        other => panic!("unknown scenario {other}"),
    }
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    stdout: String,
    took: Duration,
    killed: bool,
}

fn run_child(name: &str, limit: Duration) -> Outcome {
    let start = Instant::now();
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--child", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut killed = false;
    loop {
        if c.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            c.kill().unwrap();
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = c.wait_with_output().unwrap();
    Outcome {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        took: start.elapsed(),
        killed,
    }
}

fn expect_deadlock(name: &str) -> Result<(), String> {
    let o = run_child(name, Duration::from_secs(10));
    if o.killed {
        return Err(format!("{name}: hung instead of reporting the deadlock"));
    }
    if !o.stderr.contains(MSG) || o.code == Some(0) {
        return Err(format!("{name}: exit {:?}, stderr:\n{}", o.code, o.stderr));
    }
    // Under a second in Go; allow for process start-up and a loaded CI machine.
    if o.took > Duration::from_millis(1500) {
        return Err(format!("{name}: reported after {:?}", o.took));
    }
    Ok(())
}

/// A deadlocked main goroutine is listed in the report as goroutine 1, marked `[main]`, with
/// what it waits on.
fn expect_main_goroutine_deadlock(name: &str) -> Result<(), String> {
    expect_deadlock(name)?;
    let o = run_child(name, Duration::from_secs(10));
    if !o.stderr.contains("goroutine 1 [main] [chan receive]:") {
        return Err(format!("{name}: main goroutine not listed:\n{}", o.stderr));
    }
    Ok(())
}

fn expect_success(name: &str) -> Result<(), String> {
    let o = run_child(name, Duration::from_secs(10));
    if o.killed || o.code != Some(0) || !o.stdout.contains("received") {
        return Err(format!(
            "{name}: false positive or failure: exit {:?} killed {} stderr:\n{}",
            o.code, o.killed, o.stderr
        ));
    }
    Ok(())
}

fn expect_hang(name: &str) -> Result<(), String> {
    let o = run_child(name, Duration::from_millis(1500));
    if !o.killed || o.stderr.contains(MSG) {
        return Err(format!(
            "{name}: detection was off but the program ended: {:?}\n{}",
            o.code, o.stderr
        ));
    }
    Ok(())
}

/// Nothing but the outside world (late input on stdin, a late Ctrl-C) can wake main: that is
/// waiting, not a deadlock.
fn expect_woken_from_outside(name: &str) -> Result<(), String> {
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--child", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough for several deadlock checks (they start at 1 ms and back off to 100 ms).
    std::thread::sleep(Duration::from_millis(700));
    let pid = c.id().to_string();
    let mut stdin = c.stdin.take().unwrap();
    if name == "waiting_for_ctrl_c" {
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
    } else {
        use std::io::Write;
        let _ = stdin.write_all(b"late"); // fails if the child is gone: reported below
    }
    drop(stdin);
    let start = Instant::now();
    while c.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = c.kill();
            return Err(format!("{name}: did not finish once woken"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = c.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if out.status.code() != Some(0) || !stdout.contains("received") {
        return Err(format!(
            "{name}: exit {:?}, stdout {stdout:?}, stderr:\n{stderr}",
            out.status.code()
        ));
    }
    Ok(())
}

/// The dump, and the SIGQUIT handler the program installed before gorun's was called too.
fn expect_sigquit_dump_and_chain(name: &str) -> Result<(), String> {
    let stderr = expect_sigquit_dump(name)?;
    if !stderr.contains("earlier SIGQUIT handler ran") {
        return Err(format!(
            "{name}: the earlier handler was not chained:\n{stderr}"
        ));
    }
    Ok(())
}

fn expect_sigquit_dump(name: &str) -> Result<String, String> {
    let start = Instant::now();
    let c = Command::new(std::env::current_exe().unwrap())
        .args(["--child", name])
        .env("GORUN_TRACEBACK", "all")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = c.id().to_string();
    let killed = Command::new("kill").args(["-QUIT", &pid]).status();
    let waiter = std::thread::spawn(move || c.wait_with_output());
    while !waiter.is_finished() {
        if start.elapsed() > Duration::from_secs(10) {
            // Do not leave it behind: it would sleep for 30 s.
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            return Err(format!("{name}: did not exit after SIGQUIT ({killed:?})"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = waiter.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(2)
        || !stderr.contains("SIGQUIT: quit")
        || !stderr.contains("[chan receive]")
    {
        return Err(format!(
            "{name}: exit {:?}, stderr:\n{stderr}",
            out.status.code()
        ));
    }
    Ok(stderr.into_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1]);
        return;
    }
    // libtest-like arguments: a name filter, `--skip NAME`, and flags (ignored).
    let mut filter: Option<&String> = None;
    let mut skips: Vec<&String> = Vec::new();
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--skip" {
            skips.extend(it.next());
        } else if !a.starts_with('-') && filter.is_none() {
            filter = Some(a);
        }
    }
    type Case = (&'static str, fn(&str) -> Result<(), String>);
    let cases: &[Case] = &[
        (
            "main_goroutine_recv_forever",
            expect_main_goroutine_deadlock,
        ),
        ("main_goroutine_fed_later_by_a_plain_thread", expect_success),
        ("unbuffered_send_in_main", expect_deadlock),
        ("waitgroup_never_done", expect_deadlock),
        ("empty_select_in_main", expect_deadlock),
        ("recv_in_goroutines_and_main", expect_deadlock),
        ("fed_later_by_a_plain_thread", expect_success),
        ("waiting_on_a_sleeping_goroutine", expect_success),
        ("blocking_job_of_a_shut_down_runtime", expect_success),
        ("detection_off", expect_hang),
        ("sigquit_dump", |n| expect_sigquit_dump(n).map(drop)),
        ("sigquit_chained", expect_sigquit_dump_and_chain),
        ("waiting_for_stdin", expect_woken_from_outside),
        ("waiting_for_ctrl_c", expect_woken_from_outside),
    ];
    let (mut passed, mut failed) = (0, 0);
    for &(name, check) in cases {
        if filter.is_some_and(|f| !name.contains(f.as_str()))
            || skips.iter().any(|s| name.contains(s.as_str()))
        {
            continue;
        }
        match check(name) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED\n{e}");
                failed += 1;
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
