//! A channel's buffer ([`Buf`]): the value of a capacity-1 channel inline, a ring otherwise.
//!
//! Guarded by the channel's lock like the rest of `State`; it only stores values, in FIFO
//! order, and knows nothing of waiters. Values pushed at the front are those returned by
//! dropped receivers (see `state.rs`).

use std::collections::VecDeque;

/// A channel's buffer. Capacity 1, the commonest buffered channel (a result, a `done` signal,
/// every timer's channel), keeps its value inline: one allocation per channel instead of two
/// (the ring's storage is a separate allocation). Other capacities use a ring; an unbuffered
/// channel's, which holds only values returned by dropped receivers, allocates nothing until
/// one is returned.
pub(super) enum Buf<T> {
    One(Option<T>),
    Ring(VecDeque<T>),
}

impl<T> Buf<T> {
    pub(super) fn with_capacity(cap: usize) -> Buf<T> {
        if cap == 1 {
            Buf::One(None)
        } else {
            Buf::Ring(VecDeque::with_capacity(cap.min(1024)))
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        match self {
            Buf::One(v) => v.is_some() as usize,
            Buf::Ring(r) => r.len(),
        }
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub(super) fn pop_front(&mut self) -> Option<T> {
        match self {
            Buf::One(v) => v.take(),
            Buf::Ring(r) => r.pop_front(),
        }
    }

    #[inline]
    pub(super) fn push_back(&mut self, x: T) {
        match self {
            Buf::Ring(r) => r.push_back(x),
            Buf::One(v @ None) => *v = Some(x),
            Buf::One(Some(_)) => self.ring().push_back(x),
        }
    }

    pub(super) fn push_front(&mut self, x: T) {
        match self {
            Buf::Ring(r) => r.push_front(x),
            Buf::One(v @ None) => *v = Some(x),
            Buf::One(Some(_)) => self.ring().push_front(x),
        }
    }

    /// The buffer as a ring, moving an inline value into one. The channel never holds more
    /// values than its capacity, so for capacity 1 this does not happen; it keeps a value
    /// from being lost if it ever did.
    #[cold]
    fn ring(&mut self) -> &mut VecDeque<T> {
        if let Buf::One(v) = self {
            *self = Buf::Ring(v.take().into_iter().collect());
        }
        match self {
            Buf::Ring(r) => r,
            Buf::One(_) => unreachable!(),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Buf;

    #[test]
    fn a_one_slot_buffer_keeps_its_value_inline_and_never_loses_one() {
        assert_eq!(
            std::mem::size_of::<Buf<u64>>(),
            32,
            "as small as the ring alone"
        );
        let mut b = Buf::with_capacity(1);
        assert!(matches!(b, Buf::One(None)));
        b.push_back(1);
        assert!(matches!(b, Buf::One(Some(1))));
        assert_eq!((b.len(), b.pop_front(), b.pop_front()), (1, Some(1), None));
        // More values than the capacity (which a channel never stores) move to a ring, in
        // order, at either end.
        b.push_back(2);
        b.push_back(3);
        b.push_front(1);
        assert!(matches!(b, Buf::Ring(_)));
        assert_eq!(b.len(), 3);
        assert_eq!(
            [b.pop_front(), b.pop_front(), b.pop_front()],
            [Some(1), Some(2), Some(3)]
        );
        let mut r = Buf::with_capacity(0);
        r.push_front(7);
        assert_eq!((r.len(), r.pop_front()), (1, Some(7)));
    }
}
