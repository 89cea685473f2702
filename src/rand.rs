//! A small, fast, per-thread pseudo-random generator (xorshift64*), used to pick steal victims
//! and the random case order of `select!`. Not for cryptography.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

#[cfg_attr(loom, allow(dead_code))]
fn seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_usize(&h as *const _ as usize);
    // Never zero: xorshift would stay at zero forever.
    h.finish() | 1
}

/// A uniformly distributed number in `0..n` (`n > 0`), by Lemire's multiply-shift reduction.
/// Under loom it is always 0: a model must be deterministic apart from the interleavings loom
/// chooses (so `select!` visits its cases in one fixed order there: last case first).
#[cfg(loom)]
pub(crate) fn below(n: u32) -> u32 {
    debug_assert!(n > 0);
    0
}

/// A uniformly distributed number in `0..n` (`n > 0`), by Lemire's multiply-shift reduction.
#[cfg(not(loom))]
#[inline]
pub(crate) fn below(n: u32) -> u32 {
    debug_assert!(n > 0);
    let r = next_u32();
    ((r as u64 * n as u64) >> 32) as u32
}

/// The next 32 random bits of this thread's generator.
#[cfg_attr(loom, allow(dead_code))]
#[inline]
pub(crate) fn next_u32() -> u32 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = super::below(7) as usize;
            seen[v] += 1;
        }
        assert!(seen.iter().all(|&c| c > 700), "{seen:?}");
    }
}
