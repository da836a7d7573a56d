use sonance_player::{
    Command, ErrorKind, Event, LoudnessMode, Player, PlayerState, RepeatMode, Settings, Status,
    TrackId,
};

use crate::{id, ids, numbered};

fn playing(names: &[&str], index: usize) -> Player {
    let mut p = Player::new(1);
    p.handle(Command::PlayNow {
        tracks: ids(names),
        index,
    });
    p
}

fn track_changed(name: Option<&str>, index: Option<usize>) -> Event {
    Event::TrackChanged {
        track: name.map(id),
        index,
        start_at_s: 0.0,
    }
}

fn status(status: Status) -> Event {
    Event::StatusChanged { status }
}

fn at(p: &mut Player, position_s: f64) {
    assert_eq!(p.handle(Command::Position { position_s }), vec![]);
}

/// Handle `cmd`, expect exactly one error of `kind` and no change to the state.
fn refused(p: &mut Player, cmd: Command, kind: ErrorKind) {
    let before = p.snapshot();
    let events = p.handle(cmd.clone());
    match events.as_slice() {
        [Event::Error { kind: k, message }] => {
            assert_eq!(*k, kind, "{cmd:?}: {message}");
            assert!(message.len() > 10, "a sentence: {message}");
        }
        other => panic!("{cmd:?} should be refused, got {other:?}"),
    }
    assert_eq!(p.snapshot(), before, "{cmd:?} changed the state");
}

#[test]
fn play_now_replaces_the_queue_and_plays() {
    let mut p = Player::new(1);
    let events = p.handle(Command::PlayNow {
        tracks: ids(&["a", "b", "c"]),
        index: 1,
    });
    assert_eq!(
        events,
        vec![
            Event::QueueChanged(p.queue_snapshot()),
            track_changed(Some("b"), Some(1)),
            status(Status::Playing),
        ]
    );
    assert_eq!(p.snapshot().tracks, ids(&["a", "b", "c"]));
    assert_eq!(p.upcoming(), Some(id("c")));
}

#[test]
fn set_queue_keeps_the_status() {
    let mut p = playing(&["a"], 0);
    p.handle(Command::Pause);
    let events = p.handle(Command::SetQueue {
        tracks: ids(&["x", "y"]),
        index: 1,
    });
    assert_eq!(
        events,
        vec![
            Event::QueueChanged(p.queue_snapshot()),
            track_changed(Some("y"), Some(1))
        ]
    );
    assert_eq!(p.status(), Status::Paused);

    let mut stopped = Player::new(1);
    stopped.handle(Command::SetQueue {
        tracks: ids(&["x"]),
        index: 0,
    });
    assert_eq!(stopped.status(), Status::Stopped);
    assert_eq!(stopped.current(), Some(&id("x")));
}

#[test]
fn next_at_the_end_with_repeat_off_stops() {
    let mut p = playing(&["a", "b"], 1);
    assert_eq!(p.upcoming(), None);
    let events = p.handle(Command::Next);
    assert_eq!(
        events,
        vec![track_changed(None, None), status(Status::Stopped)]
    );
    assert_eq!(p.current(), None);
    // Play again starts over from the first track.
    let events = p.handle(Command::Play);
    assert_eq!(
        events,
        vec![track_changed(Some("a"), Some(0)), status(Status::Playing)]
    );
}

#[test]
fn a_track_ending_at_the_end_of_the_queue_stops() {
    let mut p = playing(&["a", "b"], 0);
    assert_eq!(
        p.handle(Command::TrackEnded { track: None }),
        vec![track_changed(Some("b"), Some(1))]
    );
    assert_eq!(
        p.handle(Command::TrackEnded {
            track: Some(id("b"))
        }),
        vec![track_changed(None, None), status(Status::Stopped)]
    );
    assert_eq!(
        p.handle(Command::TrackEnded { track: None }),
        vec![],
        "nothing is playing"
    );
}

#[test]
fn repeat_all_wraps() {
    let mut p = playing(&["a", "b"], 1);
    p.handle(Command::SetRepeat {
        mode: RepeatMode::All,
    });
    assert_eq!(p.upcoming(), Some(id("a")));
    assert_eq!(
        p.handle(Command::TrackEnded { track: None }),
        vec![track_changed(Some("a"), Some(0))]
    );
    p.handle(Command::Next);
    assert_eq!(
        p.handle(Command::Next),
        vec![track_changed(Some("a"), Some(0))]
    );
    assert_eq!(p.status(), Status::Playing);
}

#[test]
fn repeat_one_replays_on_track_end_but_next_advances() {
    let mut p = playing(&["a", "b"], 0);
    let events = p.handle(Command::SetRepeat {
        mode: RepeatMode::One,
    });
    assert_eq!(events, vec![Event::QueueChanged(p.queue_snapshot())]);
    assert_eq!(p.upcoming(), Some(id("a")));
    at(&mut p, 200.0);
    assert_eq!(
        p.handle(Command::TrackEnded { track: None }),
        vec![track_changed(Some("a"), Some(0))]
    );
    assert_eq!(p.position_s(), 0.0);
    assert_eq!(
        p.handle(Command::Next),
        vec![track_changed(Some("b"), Some(1))]
    );
    // At the end, an explicit Next with repeat one goes round.
    assert_eq!(
        p.handle(Command::Next),
        vec![track_changed(Some("a"), Some(0))]
    );
}

#[test]
fn previous_late_in_a_track_restarts_it() {
    let mut p = playing(&["a", "b", "c"], 1);
    at(&mut p, 3.1);
    assert_eq!(
        p.handle(Command::Previous),
        vec![Event::Seeked { position_s: 0.0 }]
    );
    assert_eq!(p.current(), Some(&id("b")));
    assert_eq!(p.position_s(), 0.0);
}

#[test]
fn previous_early_in_a_track_goes_back() {
    let mut p = playing(&["a", "b", "c"], 1);
    at(&mut p, 2.9);
    assert_eq!(
        p.handle(Command::Previous),
        vec![track_changed(Some("a"), Some(0))]
    );
    // Exactly at the threshold still goes back.
    let mut p = playing(&["a", "b", "c"], 2);
    at(&mut p, 3.0);
    assert_eq!(
        p.handle(Command::Previous),
        vec![track_changed(Some("b"), Some(1))]
    );
}

#[test]
fn previous_on_the_first_track_restarts_it() {
    let mut p = playing(&["a", "b"], 0);
    at(&mut p, 1.0);
    assert_eq!(
        p.handle(Command::Previous),
        vec![Event::Seeked { position_s: 0.0 }]
    );
    assert_eq!(p.current(), Some(&id("a")));
}

#[test]
fn previous_after_the_end_goes_to_the_last_track() {
    let mut p = playing(&["a", "b"], 1);
    p.handle(Command::Next);
    assert_eq!(
        p.handle(Command::Previous),
        vec![track_changed(Some("b"), Some(1))]
    );
}

#[test]
fn removing_the_playing_track_plays_the_next_one() {
    let mut p = playing(&["a", "b", "c"], 1);
    let events = p.handle(Command::Remove { index: 1 });
    assert_eq!(
        events,
        vec![
            Event::QueueChanged(p.queue_snapshot()),
            track_changed(Some("c"), Some(1))
        ]
    );
    assert_eq!(p.status(), Status::Playing);
    let events = p.handle(Command::Remove { index: 1 });
    assert_eq!(
        events,
        vec![
            Event::QueueChanged(p.queue_snapshot()),
            track_changed(None, None),
            status(Status::Stopped)
        ]
    );
}

#[test]
fn removing_another_track_only_changes_the_queue() {
    let mut p = playing(&["a", "b", "c"], 2);
    let events = p.handle(Command::Remove { index: 0 });
    assert_eq!(events, vec![Event::QueueChanged(p.queue_snapshot())]);
    assert_eq!(p.queue_snapshot().index, Some(1));
}

#[test]
fn move_reports_the_queue_with_the_current_index_following() {
    let mut p = playing(&["a", "b", "c"], 0);
    let events = p.handle(Command::Move { from: 0, to: 2 });
    assert_eq!(events, vec![Event::QueueChanged(p.queue_snapshot())]);
    assert_eq!(p.queue_snapshot().index, Some(2));
    assert_eq!(p.current(), Some(&id("a")));
    assert_eq!(p.handle(Command::Move { from: 1, to: 1 }), vec![]);
}

#[test]
fn clear_stops() {
    let mut p = playing(&["a", "b"], 0);
    let events = p.handle(Command::Clear);
    assert_eq!(
        events,
        vec![
            Event::QueueChanged(p.queue_snapshot()),
            track_changed(None, None),
            status(Status::Stopped)
        ]
    );
    assert!(p.snapshot().tracks.is_empty());
    assert_eq!(p.handle(Command::Clear), vec![], "already empty");
}

#[test]
fn play_next_and_append_change_the_queue_not_the_track() {
    let mut p = playing(&["a", "b"], 0);
    let events = p.handle(Command::PlayNext {
        tracks: ids(&["x"]),
    });
    assert_eq!(events, vec![Event::QueueChanged(p.queue_snapshot())]);
    assert_eq!(p.upcoming(), Some(id("x")));
    p.handle(Command::Append {
        tracks: ids(&["z"]),
    });
    assert_eq!(p.snapshot().tracks, ids(&["a", "x", "b", "z"]));
    assert_eq!(p.handle(Command::Append { tracks: vec![] }), vec![]);
}

#[test]
fn a_failed_track_is_skipped_and_the_player_keeps_going() {
    let mut p = playing(&["a", "b", "c"], 0);
    let events = p.handle(Command::TrackFailed {
        track: id("a"),
        message: "the file is gone".into(),
    });
    assert!(
        matches!(&events[0], Event::Error { kind: ErrorKind::TrackFailed, message } if message.contains("the file is gone")),
        "{events:?}"
    );
    assert_eq!(events[1..], [track_changed(Some("b"), Some(1))]);
    assert_eq!(p.status(), Status::Playing);

    // A failure of a track that is not current (a prefetch) only reports.
    let events = p.handle(Command::TrackFailed {
        track: id("c"),
        message: "bad header".into(),
    });
    assert_eq!(events.len(), 1);
    assert_eq!(p.current(), Some(&id("b")));
}

#[test]
fn repeat_one_does_not_retry_a_failed_track_forever() {
    let mut p = playing(&["a", "b"], 0);
    p.handle(Command::SetRepeat {
        mode: RepeatMode::One,
    });
    p.handle(Command::TrackFailed {
        track: id("a"),
        message: "x".into(),
    });
    assert_eq!(p.current(), Some(&id("b")));
}

#[test]
fn when_every_track_fails_the_player_stops() {
    let mut p = playing(&["a", "b", "c"], 0);
    p.handle(Command::SetRepeat {
        mode: RepeatMode::All,
    });
    for name in ["a", "b"] {
        p.handle(Command::TrackFailed {
            track: id(name),
            message: "x".into(),
        });
        assert_eq!(p.status(), Status::Playing);
    }
    let events = p.handle(Command::TrackFailed {
        track: id("c"),
        message: "x".into(),
    });
    assert_eq!(p.status(), Status::Stopped, "{events:?}");
    assert_eq!(p.current(), None);
}

#[test]
fn a_stale_end_report_is_ignored() {
    let mut p = playing(&["a", "b", "c"], 0);
    p.handle(Command::Next);
    assert_eq!(
        p.handle(Command::TrackEnded {
            track: Some(id("a"))
        }),
        vec![]
    );
    assert_eq!(p.current(), Some(&id("b")));
}

#[test]
fn invalid_inputs_are_refused_and_change_nothing() {
    let mut p = playing(&["a", "b"], 0);
    at(&mut p, 12.0);
    for position_s in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY] {
        refused(
            &mut p,
            Command::Seek { position_s },
            ErrorKind::InvalidValue,
        );
    }
    for volume in [1.01, -0.1, f32::NAN, f32::INFINITY] {
        refused(
            &mut p,
            Command::SetVolume { volume },
            ErrorKind::InvalidValue,
        );
    }
    for intensity in [2.0, -0.5, f32::NAN] {
        refused(
            &mut p,
            Command::SetIntensity { intensity },
            ErrorKind::InvalidValue,
        );
    }
    for preset in ["", "   ", &"x".repeat(101)] {
        refused(
            &mut p,
            Command::SetPreset {
                preset: preset.to_owned(),
            },
            ErrorKind::InvalidValue,
        );
    }
    refused(
        &mut p,
        Command::Remove { index: 2 },
        ErrorKind::InvalidIndex,
    );
    refused(
        &mut p,
        Command::Move { from: 0, to: 2 },
        ErrorKind::InvalidIndex,
    );
    refused(
        &mut p,
        Command::Move {
            from: usize::MAX,
            to: 0,
        },
        ErrorKind::InvalidIndex,
    );
    for cmd in [
        Command::PlayNow {
            tracks: ids(&["x"]),
            index: 1,
        },
        Command::SetQueue {
            tracks: ids(&["x"]),
            index: usize::MAX,
        },
    ] {
        refused(&mut p, cmd, ErrorKind::InvalidIndex);
    }
    refused(
        &mut p,
        Command::PlayNow {
            tracks: vec![],
            index: 0,
        },
        ErrorKind::NothingToPlay,
    );
    refused(
        &mut p,
        Command::Append {
            tracks: numbered(sonance_player::MAX_TRACKS),
        },
        ErrorKind::QueueFull,
    );
    assert_eq!(p.position_s(), 12.0);
}

#[test]
fn an_empty_player_refuses_to_play() {
    let mut p = Player::new(0);
    for cmd in [
        Command::Play,
        Command::TogglePlay,
        Command::Next,
        Command::Previous,
        Command::Seek { position_s: 1.0 },
    ] {
        refused(&mut p, cmd, ErrorKind::NothingToPlay);
    }
    assert_eq!(p.handle(Command::Pause), vec![]);
    assert_eq!(p.handle(Command::Stop), vec![]);
    assert_eq!(p.handle(Command::TrackEnded { track: None }), vec![]);
    assert_eq!(p.handle(Command::Position { position_s: 5.0 }), vec![]);
    assert_eq!(p.position_s(), 0.0, "no position without a track");
}

#[test]
fn position_reports_are_quiet_and_bad_ones_are_dropped() {
    let mut p = playing(&["a"], 0);
    at(&mut p, 4.5);
    assert_eq!(p.position_s(), 4.5);
    at(&mut p, f64::NAN);
    at(&mut p, -3.0);
    assert_eq!(p.position_s(), 4.5);
}

#[test]
fn seek_pause_toggle_and_stop() {
    let mut p = playing(&["a", "b"], 1);
    assert_eq!(
        p.handle(Command::Seek { position_s: 30.0 }),
        vec![Event::Seeked { position_s: 30.0 }]
    );
    assert_eq!(p.handle(Command::Pause), vec![status(Status::Paused)]);
    assert_eq!(p.handle(Command::Pause), vec![]);
    assert_eq!(p.handle(Command::TogglePlay), vec![status(Status::Playing)]);
    assert_eq!(p.handle(Command::TogglePlay), vec![status(Status::Paused)]);
    assert_eq!(
        p.handle(Command::Stop),
        vec![Event::Seeked { position_s: 0.0 }, status(Status::Stopped)]
    );
    assert_eq!(p.current(), Some(&id("b")), "stop keeps the track");
    assert_eq!(p.handle(Command::Play), vec![status(Status::Playing)]);
}

#[test]
fn settings_change_once_per_real_change() {
    let mut p = Player::new(0);
    let events = p.handle(Command::SetVolume { volume: 0.25 });
    assert_eq!(
        events,
        vec![Event::SettingsChanged(Settings {
            volume: 0.25,
            preset: sonance_player::DEFAULT_PRESET.into(),
            intensity: 1.0,
            loudness_mode: LoudnessMode::Track,
        })]
    );
    assert_eq!(p.handle(Command::SetVolume { volume: 0.25 }), vec![]);
    p.handle(Command::SetPreset {
        preset: "warm".into(),
    });
    p.handle(Command::SetIntensity { intensity: 1.0 });
    p.handle(Command::SetLoudnessMode {
        mode: LoudnessMode::Album,
    });
    assert_eq!(
        p.settings(),
        &Settings {
            volume: 0.25,
            preset: "warm".into(),
            intensity: 1.0,
            loudness_mode: LoudnessMode::Album,
        }
    );
}

#[test]
fn shuffle_through_the_player_keeps_playing_and_upcoming_follows_the_play_order() {
    let mut p = Player::new(77);
    p.handle(Command::PlayNow {
        tracks: numbered(20),
        index: 10,
    });
    let events = p.handle(Command::SetShuffle { on: true });
    assert_eq!(events, vec![Event::QueueChanged(p.queue_snapshot())]);
    assert_eq!(p.current(), Some(&id("t10")));
    let order = p.snapshot().tracks;
    assert_eq!(p.upcoming(), Some(order[1].clone()));
    p.handle(Command::Next);
    assert_eq!(p.current(), Some(&order[1]));
    p.handle(Command::SetShuffle { on: false });
    assert_eq!(p.snapshot().tracks, numbered(20));
    assert_eq!(p.current(), Some(&order[1]));
    assert_eq!(p.handle(Command::SetShuffle { on: false }), vec![]);
}

#[test]
fn commands_and_events_have_the_documented_json_shape() {
    let cmd: Command =
        serde_json::from_str(r#"{"type":"play_now","tracks":["a","b"],"index":1}"#).expect("json");
    assert_eq!(
        cmd,
        Command::PlayNow {
            tracks: ids(&["a", "b"]),
            index: 1
        }
    );
    let cmd: Command = serde_json::from_str(r#"{"type":"track_ended"}"#).expect("json");
    assert_eq!(cmd, Command::TrackEnded { track: None });
    let cmd: Command = serde_json::from_str(r#"{"type":"set_repeat","mode":"one"}"#).expect("json");
    assert_eq!(
        cmd,
        Command::SetRepeat {
            mode: RepeatMode::One
        }
    );
    assert!(serde_json::from_str::<Command>(r#"{"type":"remove","index":-1}"#).is_err());

    let p = playing(&["a"], 0);
    let json = serde_json::to_value(Event::QueueChanged(p.queue_snapshot())).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"type": "queue_changed", "tracks": ["a"], "index": 0, "shuffle": false, "repeat": "off"})
    );
    let json = serde_json::to_value(track_changed(Some("a"), Some(0))).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"type": "track_changed", "track": "a", "index": 0, "start_at_s": 0.0})
    );
    let state: PlayerState =
        serde_json::from_value(serde_json::to_value(p.snapshot()).expect("json")).expect("json");
    assert_eq!(state, p.snapshot());
    let _: TrackId = serde_json::from_str(r#""x""#).expect("transparent");
}

#[test]
fn every_command_survives_a_json_round_trip() {
    let all = [
        Command::PlayNow {
            tracks: ids(&["a"]),
            index: 0,
        },
        Command::SetQueue {
            tracks: ids(&["a", "b"]),
            index: 1,
        },
        Command::PlayNext {
            tracks: ids(&["c"]),
        },
        Command::Append { tracks: vec![] },
        Command::Remove { index: 3 },
        Command::Move { from: 1, to: 2 },
        Command::Clear,
        Command::Play,
        Command::Pause,
        Command::TogglePlay,
        Command::Stop,
        Command::Next,
        Command::Previous,
        Command::Seek { position_s: 1.5 },
        Command::SetShuffle { on: true },
        Command::SetRepeat {
            mode: RepeatMode::All,
        },
        Command::SetVolume { volume: 0.5 },
        Command::SetPreset {
            preset: "warm".into(),
        },
        Command::SetIntensity { intensity: 0.25 },
        Command::SetLoudnessMode {
            mode: LoudnessMode::Album,
        },
        Command::Position { position_s: 3.25 },
        Command::TrackEnded {
            track: Some(id("a")),
        },
        Command::TrackFailed {
            track: id("a"),
            message: "gone".into(),
        },
    ];
    for cmd in all {
        let json = serde_json::to_string(&cmd).expect("json");
        let back: Command = serde_json::from_str(&json).expect(&json);
        assert_eq!(back, cmd, "{json}");
    }
}
