//! `PanicPolicy::Abort` exits the process with status 2 after printing, as Go does. The test
//! re-runs its own binary with an environment variable so the exiting runtime is a child.
mod common;

use gorun::runtime::{Builder, PanicPolicy};
use std::process::Command;

const CHILD: &str = "GORUN_PANIC_ABORT_CHILD";

#[test]
fn abort_policy_child() {
    if std::env::var_os(CHILD).is_none() {
        return; // only meaningful as the child of the test below
    }
    let rt = Builder::new()
        .workers(2)
        .panic_policy(PanicPolicy::Abort)
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = gorun::go(async { panic!("goroutine gave up") }).await;
        // Not reached: the process exits in the panicking goroutine.
        std::process::exit(0);
    });
}

#[test]
fn panic_policy_abort_exits_with_status_2_and_prints_the_goroutine() {
    let _w = common::watchdog("panic_policy_abort", 60);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "abort_policy_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("panicked: goroutine gave up") && stderr.contains("goroutine "),
        "stderr: {stderr}"
    );
}

#[test]
fn contain_policy_prints_the_goroutine_and_keeps_running() {
    let _w = common::watchdog("contain_policy", 20);
    let rt = Builder::new()
        .workers(1)
        .panic_policy(PanicPolicy::Contain)
        .build()
        .unwrap();
    let err = rt
        .block_on(gorun::go(async { panic!("contained") }))
        .unwrap_err();
    assert!(err.is_panic());
    assert_eq!(rt.block_on(gorun::go(async { 1 })).unwrap(), 1);
}
