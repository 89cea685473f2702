//! Spawn sites, interned: a goroutine's metadata names the place it was spawned at (its
//! `#[track_caller]` location, shown by `runtime::dump`) by a 15-bit index instead of an
//! 8-byte pointer.
//!
//! # Why
//!
//! Every byte of a goroutine's metadata is paid once per goroutine: the 6 bytes saved here
//! (with the index sharing a word with the registry key and the flags) take `TaskMeta` from 32
//! to 24 bytes and, with the wrapper future's pointer gone (see `task`), a sleeping goroutine's
//! task allocation from a 128-byte to a 112-byte malloc chunk.
//!
//! # Algorithm
//!
//! A process-wide table (a `Vec` of locations and a map from a location's address to its
//! index, under one mutex) hands out indices in order of first use. Spawning must not take that
//! mutex: each thread keeps a small direct-mapped cache (8 entries, indexed by bits of the
//! location's address) of the sites it spawned at, so a loop spawning at one place, or a few,
//! finds its index with one thread-local read and a compare. A program with more than
//! [`MAX_SITES`] distinct spawn sites gets [`UNKNOWN`] for the rest, which `dump` shows as an
//! unknown location; nothing else depends on the site.
//!
//! `&'static Location` values are compared by address: two equal locations at different
//! addresses (possible across codegen units) take two indices, which costs nothing but an
//! entry.

use crate::loom::Unpoison;
use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::Mutex;

/// The number of sites that get their own index; later ones are [`UNKNOWN`].
pub(crate) const MAX_SITES: u16 = 0x7FFF;
/// The index of a site not in the table (the table was full).
pub(crate) const UNKNOWN: u16 = MAX_SITES;

struct Table {
    locations: Vec<&'static Location<'static>>,
    index: HashMap<usize, u16>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

const CACHE_SIZE: usize = 8;

thread_local! {
    /// `(address of a location, its index)`; address 0 marks an empty entry.
    static CACHE: [Cell<(usize, u16)>; CACHE_SIZE] =
        const { [const { Cell::new((0, 0)) }; CACHE_SIZE] };
}

fn lock() -> std::sync::MutexGuard<'static, Option<Table>> {
    TABLE.lock().unpoison()
}

/// The index of `location` (the same for every call with the same location).
#[inline]
pub(crate) fn intern(location: &'static Location<'static>) -> u16 {
    let addr = location as *const Location<'static> as usize;
    // Locations are 8-byte aligned and a few dozen bytes long: bits 4.. tell neighbours apart.
    let slot = (addr >> 4) % CACHE_SIZE;
    CACHE
        .try_with(|c| {
            let (a, i) = c[slot].get();
            if a == addr {
                return i;
            }
            let i = intern_slow(location);
            c[slot].set((addr, i));
            i
        })
        .unwrap_or_else(|_| intern_slow(location))
}

#[cold]
fn intern_slow(location: &'static Location<'static>) -> u16 {
    let addr = location as *const Location<'static> as usize;
    let mut guard = lock();
    let table = guard.get_or_insert_with(|| Table {
        locations: Vec::new(),
        index: HashMap::new(),
    });
    if let Some(&i) = table.index.get(&addr) {
        return i;
    }
    if table.locations.len() >= MAX_SITES as usize {
        return UNKNOWN;
    }
    let i = table.locations.len() as u16;
    table.locations.push(location);
    table.index.insert(addr, i);
    i
}

/// The location of site `index`, or `None` for [`UNKNOWN`].
pub(crate) fn location(index: u16) -> Option<&'static Location<'static>> {
    lock()
        .as_ref()
        .and_then(|t| t.locations.get(index as usize).copied())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[test]
    fn a_site_keeps_its_index_and_resolves_back() {
        #[rustfmt::skip]
        let sites = [here(), here(), here(), here(), here(), here(), here(), here(), here(), here(), here(), here(), here(), here(), here(), here()];
        let a = here();
        let b = here();
        let (ia, ib) = (intern(a), intern(b));
        assert_ne!(ia, ib);
        for _ in 0..3 {
            assert_eq!(intern(a), ia);
            assert_eq!(intern(b), ib);
            // Enough other sites to evict both from this thread's cache.
            for s in sites {
                intern(s);
            }
        }
        assert_eq!(location(ia), Some(a));
        assert_eq!(location(ib), Some(b));
        // Another thread finds the same index through the shared table.
        assert_eq!(std::thread::spawn(move || intern(a)).join().unwrap(), ia);
        assert_eq!(location(UNKNOWN), None);
    }
}
