//! The bounded queue between the webhook handler and the workers. The handler
//! never waits on it: a full queue is answered with 503 and GitHub retries.

use std::time::Instant;

use tokio::sync::mpsc;

use crate::webhook::event::Event;

/// One verified delivery waiting to be worked on.
#[derive(Debug)]
pub struct Job {
    pub delivery: String,
    pub event: Box<Event>,
    pub received: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

#[derive(Clone)]
pub struct Queue {
    tx: mpsc::Sender<Job>,
}

impl Queue {
    pub fn bounded(capacity: usize) -> (Self, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }

    /// Enqueues without waiting; fails when the queue is full (or closed,
    /// during shutdown). The job is dropped: GitHub redelivers after a 503.
    pub fn try_push(&self, job: Job) -> Result<(), QueueFull> {
        self.tx.try_send(job).map_err(|_| QueueFull)
    }

    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn is_full(&self) -> bool {
        self.tx.capacity() == 0
    }
}
