//! The play queue: the tracks in order and which one is current. A pure state machine (no
//! clock, no thread, no I/O): the media keys, MPRIS and the page ask it what to play next and
//! tell it what the page actually plays. A library with playlists comes later and will feed it.

/// What to do after Previous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Play this item from the start.
    Play(T),
    /// Go back to the start of the current item.
    Restart,
    /// Nothing to do (empty queue).
    Nothing,
}

/// Previous within this many seconds of the start goes to the previous item; later it
/// restarts the current one (what every desktop player does).
pub const RESTART_AFTER_S: f64 = 3.0;

/// The queue of items `T` (track ids).
#[derive(Debug, Clone)]
pub struct Queue<T> {
    items: Vec<T>,
    current: Option<usize>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            items: Vec::new(),
            current: None,
        }
    }
}

impl<T: Clone + PartialEq> Queue<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append items that are not queued yet; returns how many were added.
    pub fn extend(&mut self, items: impl IntoIterator<Item = T>) -> usize {
        let before = self.items.len();
        for item in items {
            if !self.items.contains(&item) {
                self.items.push(item);
            }
        }
        self.items.len() - before
    }

    /// The current item.
    #[cfg(test)]
    pub fn current(&self) -> Option<&T> {
        self.current.and_then(|i| self.items.get(i))
    }

    /// The page plays `item` now. Unknown items are ignored (returns false).
    pub fn set_current(&mut self, item: &T) -> bool {
        match self.items.iter().position(|x| x == item) {
            Some(i) => {
                self.current = Some(i);
                true
            }
            None => false,
        }
    }

    /// Move to the item after the current one (the first when none is current). At the end of
    /// the queue nothing changes and `None` is returned.
    pub fn next(&mut self) -> Option<T> {
        let i = match self.current {
            Some(i) => i + 1,
            None => 0,
        };
        let item = self.items.get(i)?.clone();
        self.current = Some(i);
        Some(item)
    }

    /// Previous: restart the current item when `position_s` is past [`RESTART_AFTER_S`] or it
    /// is the first; otherwise move to the item before it.
    pub fn previous(&mut self, position_s: f64) -> Step<T> {
        match self.current {
            None => match self.items.first() {
                Some(first) => {
                    self.current = Some(0);
                    Step::Play(first.clone())
                }
                None => Step::Nothing,
            },
            Some(i) if i == 0 || position_s > RESTART_AFTER_S => Step::Restart,
            Some(i) => {
                self.current = Some(i - 1);
                Step::Play(self.items[i - 1].clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(items: &[&'static str]) -> Queue<&'static str> {
        let mut q = Queue::new();
        q.extend(items.iter().copied());
        q
    }

    #[test]
    fn next_walks_forward_and_stops_at_the_end() {
        let mut q = q(&["a", "b", "c"]);
        assert_eq!(q.current(), None);
        assert_eq!(q.next(), Some("a"));
        assert_eq!(q.next(), Some("b"));
        assert_eq!(q.next(), Some("c"));
        assert_eq!(q.next(), None);
        assert_eq!(q.current(), Some(&"c"));
    }

    #[test]
    fn previous_restarts_late_in_a_track_and_goes_back_early() {
        let mut q = q(&["a", "b"]);
        assert!(q.set_current(&"b"));
        assert_eq!(q.previous(10.0), Step::Restart);
        assert_eq!(q.current(), Some(&"b"));
        assert_eq!(q.previous(1.0), Step::Play("a"));
        assert_eq!(q.previous(1.0), Step::Restart, "first item restarts");
    }

    #[test]
    fn the_page_reports_what_it_plays() {
        let mut q = q(&["a", "b", "c"]);
        assert!(q.set_current(&"c"));
        assert!(!q.set_current(&"zzz"));
        assert_eq!(q.current(), Some(&"c"));
        assert_eq!(q.previous(0.0), Step::Play("b"));
        assert_eq!(q.next(), Some("c"));
    }

    #[test]
    fn extend_skips_duplicates_and_empty_queue_does_nothing() {
        let mut e: Queue<&str> = Queue::new();
        assert_eq!(e.next(), None);
        assert_eq!(e.previous(0.0), Step::Nothing);
        assert_eq!(e.extend(["a", "a", "b"]), 2);
        assert_eq!(e.extend(["b", "c"]), 1);
        assert_eq!(e.items, vec!["a", "b", "c"]);
        assert_eq!(e.previous(0.0), Step::Play("a"));
    }
}
