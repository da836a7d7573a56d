use sonance_player::{
    load_state, save_state, Command, LoudnessMode, PersistError, Player, PlayerState, RepeatMode,
    Status, DEFAULT_PRESET,
};

use crate::{id, ids, numbered};

#[test]
fn a_saved_state_comes_back_the_same() {
    let mut p = Player::new(5);
    p.handle(Command::PlayNow {
        tracks: numbered(30),
        index: 7,
    });
    p.handle(Command::SetShuffle { on: true });
    p.handle(Command::Next);
    p.handle(Command::Position { position_s: 42.5 });
    p.handle(Command::SetRepeat {
        mode: RepeatMode::All,
    });
    p.handle(Command::SetVolume { volume: 0.3 });
    p.handle(Command::SetPreset {
        preset: "night".into(),
    });
    p.handle(Command::SetIntensity { intensity: 0.8 });
    p.handle(Command::SetLoudnessMode {
        mode: LoudnessMode::Album,
    });
    p.handle(Command::Pause);

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("player.json");
    save_state(&path, &p.snapshot()).expect("save");
    let state = load_state(&path).expect("load");
    assert_eq!(state, p.snapshot());

    let mut back = Player::restore(state, 0);
    assert_eq!(back.snapshot(), p.snapshot());
    assert_eq!(back.upcoming(), p.upcoming());
    // The original order survives too.
    let current = back.current().cloned();
    back.handle(Command::SetShuffle { on: false });
    assert_eq!(back.snapshot().tracks, numbered(30));
    assert_eq!(back.current().cloned(), current);

    // Saving again replaces the file and leaves no temporary file behind.
    save_state(&path, &back.snapshot()).expect("save again");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("player.json")]);
}

#[test]
fn a_player_that_was_playing_comes_back_paused() {
    let mut p = Player::new(0);
    p.handle(Command::PlayNow {
        tracks: ids(&["a"]),
        index: 0,
    });
    let back = Player::restore(p.snapshot(), 0);
    assert_eq!(back.status(), Status::Paused);
    assert_eq!(back.current(), Some(&id("a")));
}

#[test]
fn restore_clamps_and_repairs() {
    let state = PlayerState {
        tracks: ids(&["a", "b"]),
        original_index: vec![7, 7],
        index: Some(9),
        shuffle: true,
        repeat: RepeatMode::One,
        status: Status::Playing,
        position_s: -4.0,
        volume: 3.0,
        preset: "".into(),
        intensity: f32::NAN,
        loudness_mode: LoudnessMode::Album,
    };
    let p = Player::restore(state, 0);
    let s = p.snapshot();
    assert_eq!(s.index, None);
    assert_eq!(s.status, Status::Stopped, "nothing current, so stopped");
    assert_eq!(s.position_s, 0.0);
    assert_eq!(s.volume, 1.0);
    assert_eq!(s.intensity, 1.0);
    assert_eq!(s.preset, DEFAULT_PRESET);
    assert_eq!(s.tracks, ids(&["a", "b"]));
    assert_eq!(s.repeat, RepeatMode::One);

    let p = Player::restore(
        PlayerState {
            tracks: ids(&["a"]),
            index: Some(0),
            volume: -1.0,
            intensity: 9.0,
            position_s: f64::NAN,
            ..PlayerState::default()
        },
        0,
    );
    assert_eq!(p.settings().volume, 0.0);
    assert_eq!(p.settings().intensity, 1.0);
    assert_eq!(p.position_s(), 0.0);
}

#[test]
fn a_damaged_file_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("player.json");
    let garbage: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"\"a string\"".to_vec(),
        br#"{"tracks": 5}"#.to_vec(),
        br#"{"index": -1}"#.to_vec(),
        br#"{"volume": "loud"}"#.to_vec(),
        (0..=255u8).cycle().take(4096).collect(),
    ];
    for bytes in garbage {
        std::fs::write(&path, &bytes).expect("write");
        match load_state(&path) {
            Err(e @ PersistError::Corrupt { .. }) => {
                assert!(!e.is_not_found());
                assert!(e.to_string().contains("damaged"), "{e}");
            }
            other => panic!("{:?} loaded as {other:?}", String::from_utf8_lossy(&bytes)),
        }
    }
    // An older file with fewer fields loads, the rest taking defaults.
    std::fs::write(&path, br#"{"tracks": ["a"], "index": 0}"#).expect("write");
    let state = load_state(&path).expect("partial file");
    assert_eq!(state.tracks, ids(&["a"]));
    assert_eq!(state.volume, 1.0);
}

#[test]
fn a_missing_file_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = load_state(&dir.path().join("nope.json")).expect_err("missing");
    assert!(err.is_not_found(), "{err}");
    let err = save_state(
        &dir.path().join("no/such/dir/p.json"),
        &PlayerState::default(),
    )
    .expect_err("no folder");
    assert!(matches!(err, PersistError::Io { .. }), "{err}");
}

#[test]
fn restore_or_fresh_starts_fresh_on_a_missing_or_damaged_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("player.json");
    let (p, err) = sonance_player::restore_or_fresh(&path, 0);
    assert!(err.is_none(), "the first run is not an error");
    assert_eq!(p.snapshot(), PlayerState::default());

    std::fs::write(&path, b"{ not json").expect("write");
    let (p, err) = sonance_player::restore_or_fresh(&path, 0);
    assert!(matches!(err, Some(PersistError::Corrupt { .. })));
    assert_eq!(p.snapshot(), PlayerState::default());

    let saved = PlayerState {
        tracks: ids(&["a"]),
        index: Some(0),
        ..PlayerState::default()
    };
    save_state(&path, &saved).expect("save");
    let (p, err) = sonance_player::restore_or_fresh(&path, 0);
    assert!(err.is_none());
    assert_eq!(p.current(), Some(&id("a")));
}

#[test]
fn a_huge_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("player.json");
    let f = std::fs::File::create(&path).expect("create");
    // Sparse: no real disk space used.
    f.set_len(sonance_player::MAX_STATE_BYTES + 1)
        .expect("set_len");
    let err = load_state(&path).expect_err("too large");
    assert!(matches!(err, PersistError::TooLarge { .. }), "{err}");
}
