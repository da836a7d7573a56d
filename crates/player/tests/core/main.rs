//! Tests of the pure core through its public API: the queue, the player, persistence, and a
//! long run of random commands that checks the invariants after each.

mod persist;
mod player;
mod property;
mod queue;

use sonance_player::TrackId;

pub fn ids(names: &[&str]) -> Vec<TrackId> {
    names.iter().map(|n| TrackId::from(*n)).collect()
}

pub fn id(name: &str) -> TrackId {
    TrackId::from(name)
}

/// `n` distinct ids "t0", "t1", ...
pub fn numbered(n: usize) -> Vec<TrackId> {
    (0..n).map(|i| TrackId(format!("t{i}"))).collect()
}
