use sonance_player::{Queue, QueueError, RepeatMode, MAX_TRACKS};

use crate::{id, ids, numbered};

fn queue(names: &[&str], current: usize) -> Queue {
    let mut q = Queue::new(1);
    q.play_now(ids(names), current).expect("play_now");
    q
}

fn sorted(mut v: Vec<sonance_player::TrackId>) -> Vec<sonance_player::TrackId> {
    v.sort();
    v
}

#[test]
fn shuffle_keeps_the_current_track_first_and_is_a_permutation() {
    let mut q = Queue::new(42);
    q.play_now(numbered(50), 17).expect("play_now");
    q.set_shuffle(true);
    assert_eq!(q.index(), Some(0), "the current track comes first");
    assert_eq!(q.current(), Some(&id("t17")));
    let order = q.play_order();
    assert_eq!(sorted(order.clone()), sorted(numbered(50)), "a permutation");
    assert_ne!(order, numbered(50), "actually shuffled");
    assert_eq!(q.original_order(), numbered(50).as_slice());
}

#[test]
fn shuffle_is_deterministic_for_a_seed() {
    let draw = |seed| {
        let mut q = Queue::new(seed);
        q.play_now(numbered(30), 0).expect("play_now");
        q.set_shuffle(true);
        q.play_order()
    };
    assert_eq!(draw(5), draw(5));
    assert_ne!(draw(5), draw(6));
}

#[test]
fn shuffle_without_a_current_track_shuffles_everything() {
    let mut q = Queue::new(3);
    q.append(numbered(20)).expect("append");
    q.set_shuffle(true);
    assert_eq!(q.index(), None);
    assert_eq!(sorted(q.play_order()), sorted(numbered(20)));
}

#[test]
fn unshuffle_restores_the_original_order_with_the_same_track_current() {
    let mut q = Queue::new(9);
    q.play_now(numbered(40), 3).expect("play_now");
    q.set_shuffle(true);
    // Play on a few tracks in shuffled order.
    q.set_index(Some(5)).expect("in range");
    let playing = q.current().cloned();
    q.set_shuffle(false);
    assert_eq!(q.play_order(), numbered(40));
    assert_eq!(q.current().cloned(), playing);
    let playing = playing.expect("a current track");
    assert_eq!(q.index(), numbered(40).iter().position(|t| *t == playing));
}

#[test]
fn play_now_with_shuffle_on_starts_with_the_chosen_track() {
    let mut q = Queue::new(1);
    q.set_shuffle(true);
    q.play_now(numbered(10), 6).expect("play_now");
    assert_eq!(q.index(), Some(0));
    assert_eq!(q.current(), Some(&id("t6")));
    q.set_shuffle(false);
    assert_eq!(q.index(), Some(6));
}

#[test]
fn play_next_inserts_after_the_current_track() {
    let mut q = queue(&["a", "b", "c"], 1);
    q.play_next(ids(&["x", "y"])).expect("play_next");
    assert_eq!(q.play_order(), ids(&["a", "b", "x", "y", "c"]));
    assert_eq!(q.index(), Some(1));
    assert_eq!(q.auto_next(), Some(2));
}

#[test]
fn play_next_without_a_current_track_goes_first() {
    let mut q = Queue::new(1);
    q.append(ids(&["a", "b"])).expect("append");
    q.play_next(ids(&["x"])).expect("play_next");
    assert_eq!(q.play_order(), ids(&["x", "a", "b"]));
    assert_eq!(q.index(), None);
}

#[test]
fn play_next_while_shuffled_still_comes_next_after_unshuffle() {
    let mut q = Queue::new(11);
    q.play_now(numbered(10), 4).expect("play_now");
    q.set_shuffle(true);
    q.play_next(ids(&["x", "y"])).expect("play_next");
    assert_eq!(q.get(1), Some(&id("x")));
    assert_eq!(q.get(2), Some(&id("y")));
    q.set_shuffle(false);
    assert_eq!(q.index(), Some(4));
    assert_eq!(q.get(5), Some(&id("x")));
    assert_eq!(q.get(6), Some(&id("y")));
    assert_eq!(q.get(7), Some(&id("t5")));
}

#[test]
fn append_adds_at_the_end() {
    let mut q = queue(&["a"], 0);
    q.append(ids(&["b", "a"])).expect("append");
    assert_eq!(
        q.play_order(),
        ids(&["a", "b", "a"]),
        "duplicates are allowed"
    );
    assert_eq!(q.index(), Some(0));
}

#[test]
fn removing_before_the_current_track_shifts_the_index() {
    let mut q = queue(&["a", "b", "c"], 2);
    assert_eq!(q.remove(0), Ok(false));
    assert_eq!(q.index(), Some(1));
    assert_eq!(q.current(), Some(&id("c")));
}

#[test]
fn removing_the_playing_track_in_the_middle_moves_to_the_next() {
    let mut q = queue(&["a", "b", "c"], 1);
    assert_eq!(q.remove(1), Ok(true));
    assert_eq!(q.current(), Some(&id("c")));
    assert_eq!(q.index(), Some(1));
}

#[test]
fn removing_the_playing_last_track_leaves_nothing_current() {
    let mut q = queue(&["a", "b", "c"], 2);
    assert_eq!(q.remove(2), Ok(true));
    assert_eq!(q.index(), None);
    assert_eq!(q.len(), 2);
}

#[test]
fn removing_the_only_track_empties_the_queue() {
    let mut q = queue(&["a"], 0);
    assert_eq!(q.remove(0), Ok(true));
    assert!(q.is_empty());
    assert_eq!(q.index(), None);
}

#[test]
fn removing_after_the_current_track_changes_nothing_else() {
    let mut q = queue(&["a", "b", "c"], 0);
    assert_eq!(q.remove(2), Ok(false));
    assert_eq!(q.index(), Some(0));
    assert_eq!(
        q.remove(5),
        Err(QueueError::IndexOutOfRange { index: 5, len: 2 })
    );
}

#[test]
fn removing_while_shuffled_keeps_both_orders_consistent() {
    let mut q = Queue::new(2);
    q.play_now(numbered(8), 0).expect("play_now");
    q.set_shuffle(true);
    let gone = q.get(3).cloned().expect("in range");
    q.remove(3).expect("remove");
    let mut expected = numbered(8);
    expected.retain(|t| *t != gone);
    assert_eq!(q.original_order(), expected.as_slice());
    q.set_shuffle(false);
    assert_eq!(q.play_order(), expected);
    assert_eq!(q.current(), Some(&id("t0")));
}

#[test]
fn moving_the_current_track_keeps_it_current() {
    let mut q = queue(&["a", "b", "c", "d"], 1);
    q.move_item(1, 3).expect("move");
    assert_eq!(q.play_order(), ids(&["a", "c", "d", "b"]));
    assert_eq!(q.index(), Some(3));
    assert_eq!(q.current(), Some(&id("b")));
}

#[test]
fn moving_an_item_from_before_to_after_the_current_track_shifts_it_back() {
    let mut q = queue(&["a", "b", "c", "d"], 2);
    q.move_item(0, 3).expect("move");
    assert_eq!(q.play_order(), ids(&["b", "c", "d", "a"]));
    assert_eq!(q.current(), Some(&id("c")));
    assert_eq!(q.index(), Some(1));
}

#[test]
fn moving_an_item_from_after_to_before_the_current_track_shifts_it_on() {
    let mut q = queue(&["a", "b", "c", "d"], 1);
    q.move_item(3, 0).expect("move");
    assert_eq!(q.play_order(), ids(&["d", "a", "b", "c"]));
    assert_eq!(q.current(), Some(&id("b")));
    assert_eq!(q.index(), Some(2));
}

#[test]
fn moving_items_on_one_side_of_the_current_track_leaves_it_alone() {
    let mut q = queue(&["a", "b", "c", "d"], 1);
    q.move_item(3, 2).expect("move");
    assert_eq!(q.play_order(), ids(&["a", "b", "d", "c"]));
    assert_eq!(q.index(), Some(1));
    assert!(q.move_item(0, 4).is_err());
    assert!(q.move_item(9, 0).is_err());
    assert_eq!(q.play_order(), ids(&["a", "b", "d", "c"]));
}

#[test]
fn moving_while_shuffled_reorders_only_the_play_order() {
    let mut q = Queue::new(4);
    q.play_now(numbered(6), 0).expect("play_now");
    q.set_shuffle(true);
    let before = q.play_order();
    q.move_item(5, 1).expect("move");
    let mut expected = before.clone();
    let t = expected.remove(5);
    expected.insert(1, t);
    assert_eq!(q.play_order(), expected);
    q.set_shuffle(false);
    assert_eq!(q.play_order(), numbered(6));
}

#[test]
fn clear_empties_everything() {
    let mut q = queue(&["a", "b"], 1);
    q.set_repeat(RepeatMode::All);
    q.clear();
    assert!(q.is_empty());
    assert_eq!(q.index(), None);
    assert_eq!(q.repeat(), RepeatMode::All, "settings stay");
}

#[test]
fn the_queue_is_bounded() {
    let mut q = Queue::new(1);
    q.append(numbered(MAX_TRACKS - 1))
        .expect("just under the cap");
    let err = q.append(ids(&["x", "y"])).expect_err("over the cap");
    assert_eq!(
        err,
        QueueError::TooManyTracks {
            wanted: MAX_TRACKS + 1,
            max: MAX_TRACKS
        }
    );
    assert_eq!(q.len(), MAX_TRACKS - 1, "refused whole");
    assert!(q.play_next(ids(&["x", "y"])).is_err());
    q.append(ids(&["x"])).expect("exactly the cap");
    assert_eq!(q.len(), MAX_TRACKS);
    assert!(q.play_now(numbered(MAX_TRACKS + 1), 0).is_err());
    assert_eq!(q.len(), MAX_TRACKS);
}

#[test]
fn what_comes_after_depends_on_repeat() {
    let mut q = queue(&["a", "b", "c"], 2);
    assert_eq!(q.auto_next(), None);
    q.set_repeat(RepeatMode::All);
    assert_eq!(q.auto_next(), Some(0));
    q.set_repeat(RepeatMode::One);
    assert_eq!(q.auto_next(), Some(2));
    q.set_index(Some(0)).expect("in range");
    assert_eq!(q.auto_next(), Some(0));
    q.set_repeat(RepeatMode::Off);
    assert_eq!(q.auto_next(), Some(1));
    assert!(q.set_index(Some(3)).is_err());
}

#[test]
fn from_parts_rebuilds_a_shuffled_queue_and_rejects_a_bad_permutation() {
    let mut q = Queue::new(8);
    q.play_now(numbered(12), 5).expect("play_now");
    q.set_shuffle(true);
    let back = Queue::from_parts(
        q.play_order(),
        q.original_index(),
        q.index(),
        true,
        RepeatMode::One,
        0,
    );
    assert_eq!(back.play_order(), q.play_order());
    assert_eq!(back.original_order(), q.original_order());
    assert_eq!(back.repeat(), RepeatMode::One);

    // A damaged permutation: the play order is kept as the original order.
    let bad = Queue::from_parts(ids(&["a", "b"]), &[0, 0], Some(9), true, RepeatMode::Off, 0);
    assert_eq!(bad.original_order(), ids(&["a", "b"]).as_slice());
    assert_eq!(bad.index(), None, "out-of-range index dropped");
}
