//! The player on its thread: commands in, events out to every subscriber, a slow subscriber
//! dropped rather than blocking, and saving (at once for queue changes, debounced for
//! position reports, flushed at shutdown).

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use sonance_player::{
    load_state, ActorConfig, Command, Event, Player, PlayerHandle, PlayerState, PlayerStopped,
    Status, TrackId,
};

const WAIT: Duration = Duration::from_secs(10);

fn ids(names: &[&str]) -> Vec<TrackId> {
    names.iter().map(|n| TrackId::from(*n)).collect()
}

fn recv(rx: &Receiver<Event>) -> Event {
    rx.recv_timeout(WAIT).expect("an event")
}

/// Wait until `f(state)` holds (the actor works on its own thread).
fn wait_for(handle: &PlayerHandle, what: &str, f: impl Fn(&PlayerState) -> bool) {
    let start = Instant::now();
    while !f(&handle.state()) {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn saved(path: &Path) -> Option<PlayerState> {
    load_state(path).ok()
}

#[test]
fn commands_in_events_out_on_every_subscriber() {
    let handle = PlayerHandle::spawn(Player::new(1), ActorConfig::default()).expect("spawn");
    let a = handle.subscribe();
    let b = handle.subscribe();
    handle
        .send(Command::PlayNow {
            tracks: ids(&["x", "y"]),
            index: 0,
        })
        .expect("send");
    handle.send(Command::Next).expect("send");
    for rx in [&a, &b] {
        assert!(matches!(recv(rx), Event::QueueChanged(_)));
        assert_eq!(
            recv(rx),
            Event::TrackChanged {
                track: Some(TrackId::from("x")),
                index: Some(0),
                start_at_s: 0.0
            }
        );
        assert_eq!(
            recv(rx),
            Event::StatusChanged {
                status: Status::Playing
            }
        );
        assert!(matches!(
            recv(rx),
            Event::TrackChanged { index: Some(1), .. }
        ));
    }
    let state = handle.state();
    assert_eq!(state.index, Some(1));
    assert_eq!(state.status, Status::Playing);
    assert_eq!(handle.upcoming(), None);

    // A refused command reaches the subscribers as an error event.
    handle
        .send(Command::SetVolume { volume: 7.0 })
        .expect("send");
    assert!(matches!(recv(&a), Event::Error { .. }));
    handle.shutdown();
    assert_eq!(handle.send(Command::Play), Err(PlayerStopped));
}

#[test]
fn a_subscriber_that_does_not_read_is_dropped_and_does_not_block() {
    let config = ActorConfig {
        subscriber_capacity: 4,
        ..ActorConfig::default()
    };
    let handle = PlayerHandle::spawn(Player::new(1), config).expect("spawn");
    let slow = handle.subscribe();
    let fast = handle.subscribe();
    handle
        .send(Command::PlayNow {
            tracks: ids(&["a", "b", "c"]),
            index: 0,
        })
        .expect("send");
    for _ in 0..3 {
        recv(&fast);
    }
    for i in 0..200 {
        handle
            .send(Command::SetVolume {
                volume: (i % 100) as f32 / 100.0 + 0.001,
            })
            .expect("send");
        // The fast one reads each event as it comes (in step, so it never falls behind).
        assert!(matches!(recv(&fast), Event::SettingsChanged(_)));
    }
    handle.send(Command::Pause).expect("send");
    assert_eq!(
        recv(&fast),
        Event::StatusChanged {
            status: Status::Paused
        }
    );
    // The core got through every command although `slow` never read.
    wait_for(&handle, "the pause", |s| s.status == Status::Paused);
    // The slow one gets what fitted in its channel, then sees the disconnect.
    let mut got = 0;
    loop {
        match slow.recv_timeout(WAIT) {
            Ok(_) => got += 1,
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("slow subscriber was not dropped"),
        }
    }
    assert_eq!(got, 4);
    handle.shutdown();
}

#[test]
fn queue_changes_are_saved_at_once_and_positions_debounced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("player.json");
    let config = ActorConfig {
        state_path: Some(path.clone()),
        position_save_interval: Duration::from_millis(3000),
        ..ActorConfig::default()
    };
    let handle = PlayerHandle::spawn(Player::new(1), config).expect("spawn");
    handle
        .send(Command::PlayNow {
            tracks: ids(&["a", "b"]),
            index: 1,
        })
        .expect("send");
    let sent = Instant::now();
    while saved(&path).is_none_or(|f| f.index != Some(1)) {
        assert!(sent.elapsed() < WAIT, "the queue was never saved");
        std::thread::sleep(Duration::from_millis(5));
    }
    let after_play = Instant::now();
    assert!(
        after_play - sent < Duration::from_millis(2000),
        "a queue change is saved at once, not after the position interval"
    );
    assert_eq!(saved(&path).expect("file").tracks, ids(&["a", "b"]));

    for i in 1..=20 {
        handle
            .send(Command::Position {
                position_s: i as f64 * 0.25,
            })
            .expect("send");
    }
    wait_for(&handle, "the position", |s| s.position_s == 5.0);
    if after_play.elapsed() < Duration::from_millis(2000) {
        assert_eq!(
            saved(&path).expect("file").position_s,
            0.0,
            "position reports are not saved at once"
        );
    }
    let start = Instant::now();
    while saved(&path).expect("file").position_s != 5.0 {
        assert!(start.elapsed() < WAIT, "the position was never saved");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        after_play.elapsed() >= Duration::from_millis(1500),
        "saved after {:?}, before the interval",
        after_play.elapsed()
    );
    handle.shutdown();
}

#[test]
fn settings_and_positions_wait_and_shutdown_writes_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("player.json");
    let config = ActorConfig {
        state_path: Some(path.clone()),
        position_save_interval: Duration::from_secs(3600),
        ..ActorConfig::default()
    };
    let handle = PlayerHandle::spawn(Player::new(1), config).expect("spawn");
    handle
        .send(Command::PlayNow {
            tracks: ids(&["a"]),
            index: 0,
        })
        .expect("send");
    handle
        .send(Command::Position { position_s: 61.0 })
        .expect("send");
    handle
        .send(Command::SetVolume { volume: 0.25 })
        .expect("send");
    wait_for(&handle, "the volume", |s| s.volume == 0.25);
    let file = saved(&path).expect("file");
    assert_eq!(file.position_s, 0.0, "a position waits");
    assert_eq!(
        file.volume, 1.0,
        "a setting waits too (a slider sends many)"
    );
    handle.shutdown();
    let file = saved(&path).expect("file");
    assert_eq!(file.position_s, 61.0);
    assert_eq!(file.volume, 0.25);
}

#[test]
fn try_send_reports_a_full_channel_instead_of_waiting() {
    let config = ActorConfig {
        command_capacity: 1,
        ..ActorConfig::default()
    };
    let handle = PlayerHandle::spawn(Player::new(1), config).expect("spawn");
    // Flood without waiting: some sends may find the channel full, none may block.
    let mut full = 0;
    for _ in 0..10_000 {
        if handle.try_send(Command::TogglePlay).is_err() {
            full += 1;
        }
    }
    assert!(full < 10_000, "some commands got through");
    handle.shutdown();
}
