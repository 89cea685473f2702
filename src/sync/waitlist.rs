//! A FIFO list of waiters stored in a slab, with O(1) push, pop and removal from the middle.
//!
//! Every blocking primitive of `gorun::sync` parks its waiters in one of these, always behind
//! a lock (a `std::sync::Mutex` through the loom facade) owned by the primitive.
//!
//! # Algorithm
//!
//! A doubly linked list whose nodes live in a [`slab::Slab`] and link to each other by slab
//! key instead of by pointer. A waiting future remembers its key; the key stays valid until the
//! future itself removes the entry, so there is no ABA: a key is only reused after its owner
//! gave it up. A node can be *unlinked* (taken out of the FIFO order, e.g. because its request
//! was granted) while its slab entry stays, so the owner can still read the outcome the
//! granter left there; the owner then [`remove`](WaitList::remove)s it.
//!
//! This is the shape of tokio's intrusive `LinkedList` under `batch_semaphore`, with the nodes
//! moved from the futures into a slab owned by the primitive.
//!
//! # Invariants
//!
//! - `head == NIL` iff `tail == NIL` iff no entry is linked.
//! - For a linked entry `e`: `e.prev`/`e.next` name linked entries or `NIL`, and following `next`
//!   from `head` visits every linked entry once, in push order, ending at `tail`.
//! - An unlinked entry has `prev == next == NIL` and `linked == false`.
//!
//! # Rejected
//!
//! - Pointer-based intrusive nodes inside pinned futures (tokio): no allocation at all, but every
//!   access is `unsafe` and the futures become `!Unpin`. The slab reuses its storage, so after
//!   warm-up it does not allocate either, and the whole list is safe code.
//! - A `VecDeque` of waiters: removing a cancelled waiter from the middle is O(n).

use slab::Slab;

const NIL: usize = usize::MAX;

struct Entry<T> {
    value: T,
    prev: usize,
    next: usize,
    linked: bool,
}

/// The FIFO list. Not synchronised: its owner keeps it behind a lock.
pub(crate) struct WaitList<T> {
    slab: Slab<Entry<T>>,
    head: usize,
    tail: usize,
}

impl<T> WaitList<T> {
    pub(crate) const fn new() -> Self {
        WaitList {
            slab: Slab::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// Whether no entry is linked (unlinked entries may still be stored).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends `value` at the back and returns its key.
    pub(crate) fn push_back(&mut self, value: T) -> usize {
        let key = self.slab.insert(Entry {
            value,
            prev: self.tail,
            next: NIL,
            linked: true,
        });
        if self.tail == NIL {
            self.head = key;
        } else {
            self.slab[self.tail].next = key;
        }
        self.tail = key;
        key
    }

    /// Stores `value` without linking it (its owner waits outside the FIFO order) and returns
    /// its key.
    pub(crate) fn insert_unlinked(&mut self, value: T) -> usize {
        self.slab.insert(Entry {
            value,
            prev: NIL,
            next: NIL,
            linked: false,
        })
    }

    /// Links a stored but unlinked entry in at the back.
    pub(crate) fn relink_back(&mut self, key: usize) {
        debug_assert!(!self.slab[key].linked, "relink_back of a linked entry");
        let old_tail = self.tail;
        {
            let e = &mut self.slab[key];
            e.linked = true;
            e.prev = old_tail;
            e.next = NIL;
        }
        if old_tail == NIL {
            self.head = key;
        } else {
            self.slab[old_tail].next = key;
        }
        self.tail = key;
    }

    /// The keys of the linked entries, oldest first (allocates; for rare operations).
    pub(crate) fn linked_keys(&self) -> Vec<usize> {
        let mut v = Vec::new();
        let mut k = self.head;
        while k != NIL {
            v.push(k);
            k = self.slab[k].next;
        }
        v
    }

    /// Links a stored but unlinked entry back in, at the *front* (a waiter that lost a race it
    /// was woken for keeps its seniority, as in Go's `sync.Mutex`).
    pub(crate) fn relink_front(&mut self, key: usize) {
        debug_assert!(!self.slab[key].linked, "relink_front of a linked entry");
        let old_head = self.head;
        {
            let e = &mut self.slab[key];
            e.linked = true;
            e.prev = NIL;
            e.next = old_head;
        }
        if old_head == NIL {
            self.tail = key;
        } else {
            self.slab[old_head].prev = key;
        }
        self.head = key;
    }

    /// The key of the oldest linked entry.
    #[inline]
    pub(crate) fn front(&self) -> Option<usize> {
        (self.head != NIL).then_some(self.head)
    }

    /// The value stored under `key` (linked or not). Panics on a stale key (a bug).
    #[inline]
    pub(crate) fn get_mut(&mut self, key: usize) -> &mut T {
        &mut self.slab[key].value
    }

    /// Whether `key`'s entry is still in the FIFO order.
    #[cfg(test)]
    pub(crate) fn is_linked(&self, key: usize) -> bool {
        self.slab[key].linked
    }

    /// Takes `key`'s entry out of the FIFO order but keeps its value stored.
    pub(crate) fn unlink(&mut self, key: usize) {
        let (prev, next) = {
            let e = &mut self.slab[key];
            if !e.linked {
                return;
            }
            e.linked = false;
            let pn = (e.prev, e.next);
            e.prev = NIL;
            e.next = NIL;
            pn
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slab[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slab[next].prev = prev;
        }
    }

    /// Unlinks (if needed) and frees `key`'s entry, returning its value and whether it was
    /// still linked.
    pub(crate) fn remove(&mut self, key: usize) -> (T, bool) {
        let was_linked = self.slab[key].linked;
        self.unlink(key);
        (self.slab.remove(key).value, was_linked)
    }

    /// Number of stored entries, linked or not (for tests and `Debug`).
    #[cfg(test)]
    pub(crate) fn stored(&self) -> usize {
        self.slab.len()
    }

    /// Number of linked entries (O(n); for `Debug` and tests).
    pub(crate) fn linked_len(&self) -> usize {
        let mut n = 0;
        let mut k = self.head;
        while k != NIL {
            n += 1;
            k = self.slab[k].next;
        }
        n
    }
}

pub(crate) use crate::util::wake_list::WakeList;

#[cfg(test)]
mod tests {
    use super::*;

    fn order(l: &WaitList<u32>) -> Vec<u32> {
        let mut v = Vec::new();
        let mut k = l.head;
        while k != NIL {
            v.push(l.slab[k].value);
            k = l.slab[k].next;
        }
        v
    }

    #[test]
    fn fifo_and_middle_removal() {
        let mut l = WaitList::new();
        let a = l.push_back(1);
        let b = l.push_back(2);
        let c = l.push_back(3);
        assert_eq!(order(&l), [1, 2, 3]);
        assert_eq!(l.remove(b), (2, true));
        assert_eq!(order(&l), [1, 3]);
        l.unlink(a);
        assert!(!l.is_linked(a));
        assert_eq!(order(&l), [3]);
        assert_eq!(l.front(), Some(c));
        assert_eq!(l.stored(), 2);
        assert_eq!(l.remove(a), (1, false));
        assert_eq!(l.remove(c), (3, true));
        assert!(l.is_empty());
        assert_eq!(l.linked_len(), 0);
        let d = l.push_back(4);
        assert_eq!(l.front(), Some(d));
        assert_eq!(l.tail, d);
    }
}
