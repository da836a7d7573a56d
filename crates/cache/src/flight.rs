//! Single-flight: at most one computation per key at a time; other callers
//! for the same key wait for its outcome instead of computing again.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};

use crate::{lock, CacheKey};

enum State {
    Pending,
    Done(Arc<[u8]>),
    /// The leader's error, type-erased because the map is shared by callers
    /// with different error types.
    Failed(Box<dyn Any + Send>),
    /// The leader went away (it panicked) without an outcome.
    Abandoned,
}

/// One in-flight computation, shared by its leader and its waiters.
pub(crate) struct Slot {
    state: Mutex<State>,
    ready: Condvar,
}

/// What a waiter gets out of a slot.
pub(crate) enum Waited<E> {
    Done(Arc<[u8]>),
    Failed(E),
    /// No usable outcome (the leader panicked, or failed with an error of
    /// another type): the waiter should start over.
    Retry,
}

impl Slot {
    fn new() -> Self {
        Slot {
            state: Mutex::new(State::Pending),
            ready: Condvar::new(),
        }
    }

    /// Blocks until the leader settles the slot.
    pub(crate) fn wait<E: Clone + 'static>(&self) -> Waited<E> {
        let mut state = lock(&self.state);
        loop {
            match &*state {
                State::Pending => {
                    state = self
                        .ready
                        .wait(state)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                State::Done(value) => return Waited::Done(Arc::clone(value)),
                State::Failed(err) => {
                    return err
                        .downcast_ref::<E>()
                        .map_or(Waited::Retry, |e| Waited::Failed(e.clone()));
                }
                State::Abandoned => return Waited::Retry,
            }
        }
    }

    /// Sets the outcome (only the first one counts) and wakes every waiter.
    fn settle(&self, outcome: State) {
        let mut state = lock(&self.state);
        if matches!(*state, State::Pending) {
            *state = outcome;
        }
        drop(state);
        self.ready.notify_all();
    }
}

/// The in-flight map. It only holds keys whose leader is still running.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<CacheKey, Arc<Slot>>>,
}

pub(crate) enum Role<'a> {
    /// Someone else is computing this key: wait on the slot.
    Wait(Arc<Slot>),
    /// We are computing this key; the guard settles and removes the slot.
    Lead(Leader<'a>),
}

impl Flights {
    pub(crate) fn join_or_lead(&self, key: &CacheKey) -> Role<'_> {
        let mut map = lock(&self.map);
        if let Some(slot) = map.get(key) {
            return Role::Wait(Arc::clone(slot));
        }
        let slot = Arc::new(Slot::new());
        map.insert(key.clone(), Arc::clone(&slot));
        Role::Lead(Leader {
            flights: self,
            key: key.clone(),
            slot,
        })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.map).len()
    }
}

/// Held by the one caller that computes a key. Dropping it removes the key
/// from the in-flight map; if no outcome was published by then (the leader
/// panicked), waiters are woken with [`Waited::Retry`] so none hangs.
pub(crate) struct Leader<'a> {
    flights: &'a Flights,
    key: CacheKey,
    slot: Arc<Slot>,
}

impl Leader<'_> {
    /// Hands the value to all waiters now; the key stays in flight (new
    /// callers get the value at once) until the guard is dropped.
    pub(crate) fn publish(&self, value: Arc<[u8]>) {
        self.slot.settle(State::Done(value));
    }

    pub(crate) fn fail<E: Send + 'static>(&self, err: E) {
        self.slot.settle(State::Failed(Box::new(err)));
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.slot.settle(State::Abandoned); // no-op if already settled
        let mut map = lock(&self.flights.map);
        if map
            .get(&self.key)
            .is_some_and(|s| Arc::ptr_eq(s, &self.slot))
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_guard_removes_key_and_releases_waiters_on_panic() {
        let flights = Flights::default();
        let key = CacheKey("k".into());
        let slot = match flights.join_or_lead(&key) {
            Role::Lead(leader) => {
                let Role::Wait(slot) = flights.join_or_lead(&key) else {
                    panic!("expected to wait")
                };
                assert_eq!(flights.len(), 1);
                drop(leader); // as if the leader unwound
                slot
            }
            Role::Wait(_) => panic!("expected to lead"),
        };
        assert_eq!(flights.len(), 0);
        assert!(matches!(slot.wait::<String>(), Waited::Retry));
    }

    #[test]
    fn error_of_another_type_means_retry() {
        let flights = Flights::default();
        let key = CacheKey("k".into());
        let Role::Lead(leader) = flights.join_or_lead(&key) else {
            panic!("expected to lead")
        };
        let Role::Wait(slot) = flights.join_or_lead(&key) else {
            panic!("expected to wait")
        };
        leader.fail(7u32);
        assert!(matches!(slot.wait::<u32>(), Waited::Failed(7)));
        assert!(matches!(slot.wait::<String>(), Waited::Retry));
    }
}
