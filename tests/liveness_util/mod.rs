//! The randomized liveness harness of issue #13 ("every wait ends"): random balanced Go-like
//! programs ([`program`]), run on gorun or tokio and checked ([`run`]), shrunk when they fail.
//!
//! Knobs (environment):
//! - `GORUN_LIVENESS_SEEDS=N`: run seeds `0..N` (`GORUN_LIVENESS_FIRST=F`: `F..F+N`) instead of
//!   the CI budget;
//! - `GORUN_LIVENESS_SEED=s`: replay one seed (`GORUN_LIVENESS_REPEAT=R` times, default 200);
//! - `GORUN_LIVENESS_SHRINK_SECS=S`: the time spent shrinking a failure (default 60).
#![allow(dead_code)]

pub mod program;
pub mod run;

use std::time::{Duration, Instant};

pub use program::Program;
pub use run::{Exec, Failure, Runner};

/// The bound after which a run counts as hung. Programs take milliseconds; this is for a
/// loaded 2-core machine in a debug build.
pub const LIMIT: Duration = Duration::from_secs(20);
const SHRINK_LIMIT: Duration = Duration::from_secs(3);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// Whether `p` fails at least once in `tries` runs.
fn fails(runner: &mut Runner, p: &Program, tries: usize) -> Option<Failure> {
    for _ in 0..tries {
        if let Err(f) = runner.run(p, SHRINK_LIMIT) {
            return Some(f);
        }
    }
    None
}

/// Shrinks a failing program greedily (drop goroutines, channels, streams, values, features)
/// while it still fails, within `budget`. Returns the smallest failing program and its failure.
pub fn shrink(p: &Program, exec: Exec, budget: Duration) -> Option<(Program, Failure)> {
    let deadline = Instant::now() + budget;
    let mut runner = Runner::new(exec);
    let mut best: Option<(Program, Failure)> = None;
    let mut cur = p.clone();
    'outer: loop {
        for cand in cur.shrink_candidates() {
            if Instant::now() > deadline {
                break 'outer;
            }
            if let Some(f) = fails(&mut runner, &cand, 30) {
                cur = cand.clone();
                best = Some((cand, f));
                continue 'outer;
            }
        }
        break;
    }
    best
}

fn report(p: &Program, exec: Exec, f: &Failure) -> String {
    let budget = Duration::from_secs(env_u64("GORUN_LIVENESS_SHRINK_SECS").unwrap_or(60));
    let mut msg = format!(
        "liveness failure on {exec:?}: replay with GORUN_LIVENESS_SEED={}\n{p}{f}\n",
        p.seed
    );
    eprintln!("{msg}");
    match shrink(p, exec, budget) {
        Some((small, sf)) => {
            msg += &format!("shrunk program (still fails on {exec:?}):\n{small}{sf}\n");
        }
        None => msg += "(no smaller program failed)\n",
    }
    msg
}

/// The seeds to run: the knobs', or `0..ci_budget`.
pub fn seeds(ci_budget: u64) -> Vec<u64> {
    if let Some(s) = env_u64("GORUN_LIVENESS_SEED") {
        let repeat = env_u64("GORUN_LIVENESS_REPEAT").unwrap_or(200);
        return vec![s; repeat as usize];
    }
    let first = env_u64("GORUN_LIVENESS_FIRST").unwrap_or(0);
    let n = env_u64("GORUN_LIVENESS_SEEDS").unwrap_or(ci_budget);
    (first..first + n).collect()
}

/// Runs the programs of `seeds` on `exec`, through `filter`; panics with a replayable, shrunk
/// report at the first failure. Returns the number of programs run.
pub fn check(exec: Exec, seeds: &[u64], filter: impl Fn(&mut Program) -> bool) -> u64 {
    let mut runner = Runner::new(exec);
    let start = Instant::now();
    let mut n = 0;
    for &seed in seeds {
        let mut p = Program::generate(seed);
        if !filter(&mut p) {
            continue;
        }
        assert!(p.is_valid(), "generated an invalid program:\n{p}");
        if let Err(f) = runner.run(&p, LIMIT) {
            drop(runner);
            panic!("{}", report(&p, exec, &f));
        }
        n += 1;
    }
    eprintln!(
        "liveness: {n} programs on {exec:?} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    n
}
