//! The play queue: the tracks in their original order, the play order (a permutation of it,
//! the identity unless shuffled), the current position in play order, shuffle and repeat.
//! Pure state: no clock, no thread, no I/O. Every index in this API is a position in *play
//! order* (what the page draws), unless a name says otherwise.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::rng::Rng;

/// The most tracks a queue holds. Commands that would grow it past this are refused whole.
pub const MAX_TRACKS: usize = 100_000;

/// An opaque track id. The player never looks inside; the library and the front ends agree
/// on what it means (a path, a database key...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(transparent)]
pub struct TrackId(pub String);

impl From<&str> for TrackId {
    fn from(s: &str) -> Self {
        TrackId(s.to_owned())
    }
}

impl From<String> for TrackId {
    fn from(s: String) -> Self {
        TrackId(s)
    }
}

impl std::fmt::Display for TrackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happens at the end of a track and at the end of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RepeatMode {
    /// Play the queue once, then stop.
    #[default]
    Off,
    /// After the last track, start again at the first.
    All,
    /// When a track ends by itself, play it again. An explicit Next still moves on.
    One,
}

/// Why the queue refused a change. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A position past the end of the queue.
    #[error("position {index} is outside the queue ({len} tracks)")]
    IndexOutOfRange { index: usize, len: usize },
    /// The queue would hold more than [`MAX_TRACKS`].
    #[error("the queue can hold at most {max} tracks; this would make {wanted}")]
    TooManyTracks { wanted: usize, max: usize },
}

/// The play queue. See the module docs.
#[derive(Debug, Clone)]
pub struct Queue {
    /// The tracks in the order they were queued (what "shuffle off" plays).
    tracks: Vec<TrackId>,
    /// Play order: `order[i]` is the position in `tracks` of the i-th track played.
    /// The identity when shuffle is off.
    order: Vec<usize>,
    /// Position in play order of the current track; `None` when nothing is current (empty
    /// queue, or played to the end).
    current: Option<usize>,
    shuffle: bool,
    repeat: RepeatMode,
    rng: Rng,
}

impl Queue {
    /// An empty queue whose shuffles are drawn from `seed` (same seed, same shuffles).
    pub fn new(seed: u64) -> Self {
        Queue {
            tracks: Vec::new(),
            order: Vec::new(),
            current: None,
            shuffle: false,
            repeat: RepeatMode::Off,
            rng: Rng::new(seed),
        }
    }

    /// Rebuild a queue from its parts (a saved state). `original_index[i]` is the position in
    /// the original order of the i-th track in play order; when it is not a permutation of
    /// `0..tracks.len()` (or empty) the play order is taken as the original order. The list is
    /// cut at [`MAX_TRACKS`] and an out-of-range `current` becomes `None`.
    pub fn from_parts(
        mut play_order: Vec<TrackId>,
        original_index: &[usize],
        current: Option<usize>,
        shuffle: bool,
        repeat: RepeatMode,
        seed: u64,
    ) -> Self {
        play_order.truncate(MAX_TRACKS);
        let n = play_order.len();
        let mut q = Queue::new(seed);
        q.repeat = repeat;
        q.shuffle = shuffle;
        q.current = current.filter(|&i| i < n);
        if shuffle && is_permutation(original_index, n) {
            let mut tracks = vec![TrackId(String::new()); n];
            for (i, id) in play_order.into_iter().enumerate() {
                tracks[original_index[i]] = id;
            }
            q.tracks = tracks;
            q.order = original_index.to_vec();
        } else {
            q.tracks = play_order;
            q.order = (0..n).collect();
        }
        q
    }

    /// How many tracks are queued.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// Position in play order of the current track.
    pub fn index(&self) -> Option<usize> {
        self.current
    }

    /// The current track.
    pub fn current(&self) -> Option<&TrackId> {
        self.current.and_then(|i| self.get(i))
    }

    /// The track at position `index` in play order.
    pub fn get(&self, index: usize) -> Option<&TrackId> {
        self.order.get(index).map(|&o| &self.tracks[o])
    }

    /// The tracks in play order.
    pub fn play_order(&self) -> Vec<TrackId> {
        self.order.iter().map(|&o| self.tracks[o].clone()).collect()
    }

    /// The tracks in the order they were queued (the order "shuffle off" plays).
    pub fn original_order(&self) -> &[TrackId] {
        &self.tracks
    }

    /// For each position in play order, the position of that track in the original order.
    pub fn original_index(&self) -> &[usize] {
        &self.order
    }

    /// Whether the play order is shuffled.
    pub fn shuffle(&self) -> bool {
        self.shuffle
    }

    /// The repeat mode.
    pub fn repeat(&self) -> RepeatMode {
        self.repeat
    }

    /// Set the repeat mode.
    pub fn set_repeat(&mut self, mode: RepeatMode) {
        self.repeat = mode;
    }

    /// Make position `index` current (`None`: nothing current).
    pub fn set_index(&mut self, index: Option<usize>) -> Result<(), QueueError> {
        if let Some(i) = index {
            self.check_index(i)?;
        }
        self.current = index;
        Ok(())
    }

    /// Replace the queue with `tracks` and make `index` (into `tracks`) current. When shuffle
    /// is on, the new list is shuffled with that track first.
    pub fn play_now(&mut self, tracks: Vec<TrackId>, index: usize) -> Result<(), QueueError> {
        check_len(tracks.len())?;
        if index >= tracks.len() {
            return Err(QueueError::IndexOutOfRange {
                index,
                len: tracks.len(),
            });
        }
        self.order = (0..tracks.len()).collect();
        self.tracks = tracks;
        self.current = Some(index);
        if self.shuffle {
            self.reshuffle();
        }
        Ok(())
    }

    /// Insert `tracks` right after the current track (at the front when nothing is current),
    /// in play order and in the original order alike, so they still come next after
    /// shuffle is turned off.
    pub fn play_next(&mut self, tracks: Vec<TrackId>) -> Result<(), QueueError> {
        check_len(self.len() + tracks.len())?;
        let k = tracks.len();
        if k == 0 {
            return Ok(());
        }
        let (play_at, orig_at) = match self.current {
            Some(c) => (c + 1, self.order[c] + 1),
            None => (0, 0),
        };
        for o in &mut self.order {
            if *o >= orig_at {
                *o += k;
            }
        }
        self.tracks.splice(orig_at..orig_at, tracks);
        self.order.splice(play_at..play_at, orig_at..orig_at + k);
        Ok(())
    }

    /// Add `tracks` at the end of the queue.
    pub fn append(&mut self, tracks: Vec<TrackId>) -> Result<(), QueueError> {
        check_len(self.len() + tracks.len())?;
        let start = self.tracks.len();
        self.tracks.extend(tracks);
        self.order.extend(start..self.tracks.len());
        Ok(())
    }

    /// Remove the track at `index`. Removing the current track makes the one after it current
    /// (nothing current when it was the last). Returns whether the current track changed.
    pub fn remove(&mut self, index: usize) -> Result<bool, QueueError> {
        self.check_index(index)?;
        let orig = self.order.remove(index);
        self.tracks.remove(orig);
        for o in &mut self.order {
            if *o > orig {
                *o -= 1;
            }
        }
        let mut changed = false;
        self.current = match self.current {
            Some(c) if c > index => Some(c - 1),
            Some(c) if c == index => {
                changed = true;
                (c < self.order.len()).then_some(c)
            }
            other => other,
        };
        Ok(changed)
    }

    /// Move the track at `from` to `to` (both positions in play order, `to` counted after the
    /// removal). The current track stays current wherever it ends up. With shuffle off the
    /// original order moves too; with shuffle on only the play order does.
    pub fn move_item(&mut self, from: usize, to: usize) -> Result<(), QueueError> {
        self.check_index(from)?;
        self.check_index(to)?;
        if from == to {
            return Ok(());
        }
        if self.shuffle {
            let o = self.order.remove(from);
            self.order.insert(to, o);
        } else {
            let t = self.tracks.remove(from);
            self.tracks.insert(to, t);
        }
        self.current = self.current.map(|c| {
            if c == from {
                to
            } else if from < c && c <= to {
                c - 1
            } else if to <= c && c < from {
                c + 1
            } else {
                c
            }
        });
        Ok(())
    }

    /// Empty the queue (shuffle and repeat stay as they are).
    pub fn clear(&mut self) {
        self.tracks.clear();
        self.order.clear();
        self.current = None;
    }

    /// Turn shuffle on or off. On: the play order is shuffled with the current track first
    /// (it keeps playing). Off: the original order comes back with the same track current.
    pub fn set_shuffle(&mut self, on: bool) {
        if on == self.shuffle {
            return;
        }
        self.shuffle = on;
        if on {
            self.reshuffle();
        } else {
            self.current = self.current.map(|c| self.order[c]);
            self.order = (0..self.tracks.len()).collect();
        }
    }

    /// Draw a new play order: the current track (if any) first, the rest shuffled after it.
    fn reshuffle(&mut self) {
        let current_orig = self.current.map(|c| self.order[c]);
        let mut rest: Vec<usize> = (0..self.tracks.len())
            .filter(|&o| Some(o) != current_orig)
            .collect();
        self.rng.shuffle(&mut rest);
        self.order = current_orig.into_iter().chain(rest).collect();
        if current_orig.is_some() {
            self.current = Some(0);
        }
    }

    /// The position after `from` in play order for an explicit Next (`wrap`: go round at the
    /// end), or `None` at the end.
    pub fn after(&self, from: Option<usize>, wrap: bool) -> Option<usize> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        match from {
            None => Some(0),
            Some(c) if c + 1 < n => Some(c + 1),
            Some(_) => wrap.then_some(0),
        }
    }

    /// The position that plays when the current track ends by itself: the same one with
    /// repeat one, the next one, the first after the last with repeat all, else `None`.
    pub fn auto_next(&self) -> Option<usize> {
        let c = self.current?;
        match self.repeat {
            RepeatMode::One => Some(c),
            RepeatMode::All => self.after(Some(c), true),
            RepeatMode::Off => self.after(Some(c), false),
        }
    }

    fn check_index(&self, index: usize) -> Result<(), QueueError> {
        if index < self.len() {
            Ok(())
        } else {
            Err(QueueError::IndexOutOfRange {
                index,
                len: self.len(),
            })
        }
    }
}

fn check_len(wanted: usize) -> Result<(), QueueError> {
    if wanted > MAX_TRACKS {
        Err(QueueError::TooManyTracks {
            wanted,
            max: MAX_TRACKS,
        })
    } else {
        Ok(())
    }
}

/// True when `v` holds each of `0..n` exactly once.
pub(crate) fn is_permutation(v: &[usize], n: usize) -> bool {
    if v.len() != n {
        return false;
    }
    let mut seen = vec![false; n];
    for &i in v {
        match seen.get_mut(i) {
            Some(s) if !*s => *s = true,
            _ => return false,
        }
    }
    true
}
