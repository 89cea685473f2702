//! The global injection queue: tasks scheduled from outside the runtime's workers, and the
//! overflow of full local queues. An unbounded lock-free MPMC queue (`concurrent-queue`); its
//! length is read cheaply by workers deciding whether to look at it.

use super::queue::Overflow;
use concurrent_queue::ConcurrentQueue;

pub(crate) struct Inject<T> {
    queue: ConcurrentQueue<T>,
}

impl<T> Inject<T> {
    pub(crate) fn new() -> Self {
        Inject {
            queue: ConcurrentQueue::unbounded(),
        }
    }

    pub(crate) fn push(&self, task: T) {
        // An unbounded queue that is never closed cannot refuse a push.
        if self.queue.push(task).is_err() {
            unreachable!("the injection queue is never closed");
        }
    }

    pub(crate) fn pop(&self) -> Option<T> {
        self.queue.pop().ok()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl<T> Overflow<T> for Inject<T> {
    fn push_batch(&self, tasks: impl Iterator<Item = T>) {
        for t in tasks {
            self.push(t);
        }
    }
}
