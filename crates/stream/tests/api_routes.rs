//! The player core and the library behind the API: commands in through `POST /api/player` and
//! `PUT /api/queue`, events out through `GET /api/events`; ids that are not library ids, and
//! folders named by a served page, are refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::ops::ControlFlow;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use sonance_player::{ActorConfig, Player, PlayerHandle};
use sonance_stream::{message, Access, PlayerHost, ResponseExt, StreamApi};

fn api(name: &str, with_player: bool) -> (Arc<StreamApi>, std::path::PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("sonance-player-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let catalog = common::catalog(&dir, 30.0);
    let library = Arc::clone(catalog.library());
    let mut api = StreamApi::new(catalog, Access::Loopback);
    if with_player {
        let handle = PlayerHandle::spawn(
            Player::new(7),
            ActorConfig {
                state_path: Some(dir.join("player.json")),
                ..ActorConfig::default()
            },
        )
        .unwrap();
        api = api.with_player(Arc::new(PlayerHost::new(handle, library)));
    }
    (Arc::new(api), dir)
}

const A: &str = "0123456789abcdef";
const B: &str = "fedcba9876543210";

#[test]
fn a_queue_put_from_outside_reaches_a_page_following_the_events() {
    let (api, dir) = api("events", true);
    // A page follows the events (on its own thread, as the server runs it).
    let (tx, rx) = mpsc::channel::<String>();
    let follower = {
        let api = Arc::clone(&api);
        std::thread::spawn(move || {
            let mut pieces = 0;
            api.handle_progressive(&message::get("/api/events"), &mut |head, piece| {
                assert_eq!(head.status(), 200);
                assert_eq!(head.headers()["content-type"], "text/event-stream");
                pieces += 1;
                let _ = tx.send(String::from_utf8_lossy(piece).into_owned());
                if pieces < 4 {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            })
        })
    };
    let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(first.starts_with("event: state\ndata: {"), "{first}");

    // `curl -X PUT /api/queue` …
    let body = format!(r#"{{"tracks": ["{A}", "{B}"], "index": 1}}"#);
    let r = api.handle(&message::with_json("PUT", "/api/queue", &body));
    assert_eq!(r.status(), 202, "{}", r.text());
    // … then Play through the generic command route.
    let r = api.handle(&message::with_json(
        "POST",
        "/api/player",
        r#"{"type": "play"}"#,
    ));
    assert_eq!(r.status(), 202, "{}", r.text());

    let mut seen = String::new();
    while let Ok(p) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.push_str(&p);
    }
    follower.join().unwrap();
    assert!(seen.contains(r#""type":"queue_changed""#), "{seen}");
    assert!(
        seen.contains(&format!(r#""type":"track_changed","track":"{B}""#)),
        "{seen}"
    );
    assert!(seen.contains(r#""status":"playing""#), "{seen}");

    let q = api.handle(&message::get("/api/queue"));
    let q: serde_json::Value = serde_json::from_slice(q.body()).unwrap();
    assert_eq!(q["tracks"], serde_json::json!([A, B]));
    assert_eq!(q["index"], 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn commands_are_checked_before_they_reach_the_player() {
    let (api, dir) = api("checks", true);
    for (method, path, body) in [
        (
            "PUT",
            "/api/queue",
            r#"{"tracks": ["../../etc/passwd"], "index": 0}"#,
        ),
        (
            "POST",
            "/api/player",
            r#"{"type": "append", "tracks": ["/home/me/a.flac"]}"#,
        ),
        ("POST", "/api/player", r#"{"type": "launch_missiles"}"#),
        ("POST", "/api/player", "not json"),
        ("POST", "/api/player/seek", r#"{"position": 3}"#),
        ("PUT", "/api/queue", r#"{"index": 0}"#),
    ] {
        let r = api.handle(&message::with_json(method, path, body));
        assert_eq!(r.status(), 400, "{method} {path} {body}: {}", r.text());
        let e: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(e["kind"], "bad_parameter");
    }
    let r = api.handle(&message::with_json("POST", "/api/player/dance", "{}"));
    assert_eq!(r.status(), 404);
    let r = api.handle(&message::with_json("DELETE", "/api/queue", ""));
    assert_eq!(r.status(), 405);
    // Nothing reached the queue.
    let s: serde_json::Value =
        serde_json::from_slice(api.handle(&message::get("/api/player")).body()).unwrap();
    assert_eq!(s["tracks"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_queue_survives_a_restart() {
    let (api, dir) = api("restart", true);
    let body = format!(r#"{{"type": "play_now", "tracks": ["{A}", "{B}"], "index": 0}}"#);
    assert_eq!(
        api.handle(&message::with_json("POST", "/api/player", &body))
            .status(),
        202
    );
    let r = api.handle(&message::with_json("POST", "/api/player/next", ""));
    assert_eq!(r.status(), 202);
    // Queue changes are saved at once; give the player thread a moment to handle them.
    let state_path = dir.join("player.json");
    let mut saved = None;
    for _ in 0..50 {
        if let Ok(s) = sonance_player::load_state(&state_path) {
            if s.index == Some(1) {
                saved = Some(s);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let saved = saved.expect("the queue was saved");
    // A new server on the same folder restores it (paused).
    let restored = Player::restore(saved, 1).snapshot();
    assert_eq!(restored.tracks.len(), 2);
    assert_eq!(restored.index, Some(1));
    let _ = std::fs::remove_dir_all(dir);
}

/// Found by fuzzing (fuzz/fuzz_targets/api_request.rs): through a transport of whole answers
/// (the desktop app's custom scheme) the event stream never ended and held its worker.
#[test]
fn the_event_stream_is_refused_where_answers_are_whole() {
    let (api, dir) = api("whole", true);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(api.handle(&message::get("/api/events?q=t")).status());
    });
    let status = rx.recv_timeout(Duration::from_secs(5));
    assert_eq!(
        status.map(|s| s.as_u16()),
        Ok(406),
        "answered at once, and refused"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_a_player_core_the_routes_say_so() {
    let (api, dir) = api("none", false);
    let r = api.handle(&message::get("/api/player"));
    assert_eq!(r.status(), 404);
    assert!(r.text().contains("no player core"), "{}", r.text());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_served_page_cannot_name_folders_to_scan() {
    let (api, dir) = api("folders", false);
    let r = api.handle(&message::with_json(
        "POST",
        "/api/library/folders",
        r#"{"path": "/etc"}"#,
    ));
    assert_eq!(r.status(), 403, "{}", r.text());
    let folders = api.handle(&message::get("/api/library/folders"));
    assert_eq!(folders.text(), "[]");
    let _ = std::fs::remove_dir_all(dir);
}
