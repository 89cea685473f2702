//! gorun::io: stdin lines (Go's bufio.Scanner over os.Stdin), stdout/stderr writes, bytes
//! never lost between handles, end of input. Each check runs this binary again as a child
//! with a pipe for its standard input.
mod common;

use gorun::prelude::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs test `name` in a child with `input` on its stdin; returns (success, stdout, stderr).
fn child(name: &str, input: &[u8]) -> (bool, String, String) {
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1", "-q"])
        .env("IO_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = c.wait_with_output().unwrap();
    feeder.join().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn in_child() -> bool {
    std::env::var_os("IO_CHILD").is_some()
}

#[test]
fn stdin_lines_to_stdout_like_a_go_scanner() {
    if in_child() {
        gorun::block_on(async {
            let mut lines = gorun::io::stdin().lines();
            let mut out = gorun::io::stdout();
            let mut n = 0;
            while let Some(line) = lines.next().await {
                n += 1;
                let line = format!("<{}>\n", line.unwrap().to_uppercase());
                out.write_all(line.as_bytes()).await.unwrap();
            }
            out.flush().await.unwrap();
            gorun::io::stderr()
                .write_all(format!("{n} lines\n").as_bytes())
                .await
                .unwrap();
        });
        return;
    }
    let _w = common::watchdog("stdin_lines", 60);
    let input: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    let (ok, out, err) = child("stdin_lines_to_stdout_like_a_go_scanner", input.as_bytes());
    assert!(ok, "{err}");
    let want: String = (0..2000).map(|i| format!("<LINE {i}>\n")).collect();
    assert!(out.contains(&want), "{out}");
    assert!(err.contains("2000 lines"), "{err}");
}

#[test]
fn a_dropped_handle_gives_its_buffered_bytes_back() {
    if in_child() {
        gorun::block_on(async {
            let mut first = String::new();
            {
                // A buffered read takes the whole chunk the thread read: more than one line.
                let mut h = gorun::io::stdin();
                h.read_line(&mut first).await.unwrap();
            }
            let mut rest = String::new();
            gorun::io::stdin().read_to_string(&mut rest).await.unwrap();
            println!("first={first:?} rest={rest:?}");
        });
        return;
    }
    let _w = common::watchdog("stdin_give_back", 60);
    let (ok, out, err) = child(
        "a_dropped_handle_gives_its_buffered_bytes_back",
        b"a\nb\nc\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains(r#"first="a\n" rest="b\nc\n""#), "{out}");
}
