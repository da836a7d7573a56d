//! Ten thousand random commands (good and bad) from a seeded generator; the invariants are
//! checked after each one.

use sonance_player::{
    Command, Event, LoudnessMode, Player, QueueSnapshot, RepeatMode, Settings, Status, TrackId,
    MAX_TRACKS,
};

/// What a front end knows when it only follows the events: it must always match the player.
struct Mirror {
    queue: QueueSnapshot,
    track: Option<TrackId>,
    status: Status,
    settings: Settings,
}

impl Mirror {
    fn new(p: &Player) -> Self {
        Mirror {
            queue: p.queue_snapshot(),
            track: p.current().cloned(),
            status: p.status(),
            settings: p.settings().clone(),
        }
    }

    fn apply(&mut self, e: &Event) {
        match e {
            Event::QueueChanged(q) => {
                self.queue = q.clone();
                self.track = q.index.and_then(|i| q.tracks.get(i).cloned());
            }
            Event::TrackChanged { track, index, .. } => {
                self.queue.index = *index;
                self.track = track.clone();
            }
            Event::StatusChanged { status } => self.status = *status,
            Event::SettingsChanged(s) => self.settings = s.clone(),
            Event::Seeked { .. } | Event::Error { .. } => {}
        }
    }

    fn check(&self, p: &Player, ctx: &str) {
        assert_eq!(self.queue, p.queue_snapshot(), "queue out of sync {ctx}");
        assert_eq!(self.track.as_ref(), p.current(), "track out of sync {ctx}");
        assert_eq!(self.status, p.status(), "status out of sync {ctx}");
        assert_eq!(&self.settings, p.settings(), "settings out of sync {ctx}");
    }
}

/// SplitMix64, so a failure replays exactly.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn index(&mut self, len: usize) -> usize {
        // Mostly valid, sometimes just past the end, rarely absurd.
        match self.below(10) {
            0 => len,
            1 => usize::MAX - self.below(3) as usize,
            _ => self.below(len as u64 + 1) as usize,
        }
    }
    fn tracks(&mut self) -> Vec<TrackId> {
        let n = self.below(6);
        (0..n)
            .map(|_| TrackId(format!("t{}", self.below(40))))
            .collect()
    }
    fn f64(&mut self) -> f64 {
        match self.below(8) {
            0 => f64::NAN,
            1 => -1.0,
            2 => f64::INFINITY,
            3 => 2.95 + self.below(20) as f64 / 100.0,
            _ => self.below(600) as f64 / 2.0,
        }
    }
    fn f32(&mut self) -> f32 {
        match self.below(6) {
            0 => f32::NAN,
            1 => -0.5,
            2 => 1.5,
            _ => self.below(101) as f32 / 100.0,
        }
    }
}

fn random_command(g: &mut Gen, p: &Player) -> Command {
    let len = p.queue().len();
    let current = p.current().cloned().unwrap_or_else(|| TrackId("t0".into()));
    match g.below(24) {
        0 => Command::PlayNow {
            tracks: g.tracks(),
            index: g.index(3),
        },
        1 => Command::SetQueue {
            tracks: g.tracks(),
            index: g.index(3),
        },
        2 => Command::PlayNext { tracks: g.tracks() },
        3 | 4 => Command::Append { tracks: g.tracks() },
        5 => Command::Remove {
            index: g.index(len),
        },
        6 => Command::Move {
            from: g.index(len),
            to: g.index(len),
        },
        7 if g.below(20) == 0 => Command::Clear,
        8 => Command::Play,
        9 => Command::Pause,
        10 => Command::TogglePlay,
        11 if g.below(4) == 0 => Command::Stop,
        12 => Command::Next,
        13 => Command::Previous,
        14 => Command::Seek {
            position_s: g.f64(),
        },
        15 => Command::SetShuffle {
            on: g.below(2) == 0,
        },
        16 => Command::SetRepeat {
            mode: [RepeatMode::Off, RepeatMode::All, RepeatMode::One][g.below(3) as usize],
        },
        17 => Command::SetVolume { volume: g.f32() },
        18 => Command::SetIntensity { intensity: g.f32() },
        19 => Command::SetPreset {
            preset: ["", "warm", "bright", " "][g.below(4) as usize].into(),
        },
        20 => Command::SetLoudnessMode {
            mode: [LoudnessMode::Track, LoudnessMode::Album][g.below(2) as usize],
        },
        21 => Command::TrackEnded {
            track: (g.below(3) == 0).then(|| TrackId(format!("t{}", g.below(40)))),
        },
        22 => Command::TrackFailed {
            track: if g.below(2) == 0 {
                current
            } else {
                TrackId("t1".into())
            },
            message: "cannot decode".into(),
        },
        _ => Command::Position {
            position_s: g.f64(),
        },
    }
}

fn check_invariants(p: &Player, step: usize, cmd: &Command) {
    let q = p.queue();
    let s = p.snapshot();
    let ctx = || format!("step {step} after {cmd:?}");
    assert!(q.len() <= MAX_TRACKS, "{}", ctx());
    assert_eq!(s.tracks.len(), q.len(), "{}", ctx());
    match s.index {
        Some(i) => assert!(i < q.len(), "index {i} of {}: {}", q.len(), ctx()),
        None => assert_eq!(s.status, Status::Stopped, "{}", ctx()),
    }
    // The play order is a permutation of the original order.
    let mut seen = vec![false; q.len()];
    for &o in q.original_index() {
        assert!(o < q.len() && !seen[o], "not a permutation: {}", ctx());
        seen[o] = true;
    }
    let mut a = q.play_order();
    let mut b = q.original_order().to_vec();
    a.sort();
    b.sort();
    assert_eq!(a, b, "{}", ctx());
    if !q.shuffle() {
        assert_eq!(q.play_order(), q.original_order(), "{}", ctx());
    }
    assert!(s.position_s.is_finite() && s.position_s >= 0.0, "{}", ctx());
    assert!((0.0..=1.0).contains(&s.volume), "{}", ctx());
    assert!((0.0..=1.0).contains(&s.intensity), "{}", ctx());
    assert!(!s.preset.trim().is_empty(), "{}", ctx());
    if let Some(up) = p.upcoming() {
        assert!(q.play_order().contains(&up), "{}", ctx());
    }
}

#[test]
fn ten_thousand_random_commands_keep_the_invariants() {
    for seed in [1, 2, 3] {
        let mut g = Gen(seed);
        let mut p = Player::new(seed);
        let mut tracks_seen = 0usize;
        let mut mirror = Mirror::new(&p);
        for step in 0..10_000 {
            let cmd = random_command(&mut g, &p);
            let before = p.snapshot();
            let events = p.handle(cmd.clone());
            if events.iter().any(|e| matches!(e, Event::Error { .. }))
                && !matches!(cmd, Command::TrackFailed { .. })
            {
                assert_eq!(events.len(), 1, "a refusal is one event: {cmd:?}");
                assert_eq!(p.snapshot(), before, "a refused {cmd:?} changed the state");
            }
            for e in &events {
                mirror.apply(e);
            }
            mirror.check(&p, &format!("at step {step} after {cmd:?}: {events:?}"));
            check_invariants(&p, step, &cmd);
            tracks_seen = tracks_seen.max(p.queue().len());
            if step % 1000 == 0 {
                // A save and restore keeps the queue.
                let back = Player::restore(p.snapshot(), 0);
                assert_eq!(back.snapshot().tracks, p.snapshot().tracks);
                assert_eq!(back.queue().original_order(), p.queue().original_order());
            }
        }
        assert!(tracks_seen > 20, "the run exercised a real queue");
    }
}
