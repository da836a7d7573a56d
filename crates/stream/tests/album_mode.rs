//! Album mode through the API: `loudness=album` on a chunk levels the track with the album
//! it is on. The first such request measures every track of the album once and keeps each
//! loudness in the library; a track on no album plays as in track mode. (How it sounds —
//! a quiet interlude keeping its distance to the songs — is measured as played in
//! `crates/engine/tests/presets_loudness.rs`.)
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use sonance_stream::{message, Access, StreamApi};

/// A 4 s tone at `amplitude`, FLAC, tagged with `album` (none when empty).
fn tone(path: &Path, amplitude: f64, album: &str, track: u32) {
    let src = format!("sine=frequency=330:duration=4:sample_rate=44100,volume={amplitude}");
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", &src, "-ac", "2",
    ]);
    if !album.is_empty() {
        for m in [
            format!("album={album}"),
            "album_artist=The Band".to_string(),
            format!("track={track}"),
            format!("title=Part {track}"),
        ] {
            cmd.args(["-metadata", &m]);
        }
    }
    let ok = cmd
        .arg(path)
        .status()
        .expect("ffmpeg (the test's file maker) runs");
    assert!(ok.success(), "ffmpeg made {}", path.display());
}

fn get(api: &StreamApi, target: &str) -> (u16, Vec<u8>) {
    let r = api.handle(&message::get(target));
    (r.status().as_u16(), r.body().to_vec())
}

#[test]
fn album_mode_measures_the_album_once_and_levels_its_tracks_together() {
    let dir = std::env::temp_dir().join(format!("sonance-album-mode-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        (dir.join("1.flac"), 0.5, "Songs and Silence", 1),
        (dir.join("2.flac"), 0.02, "Songs and Silence", 2),
        (dir.join("3.flac"), 0.5, "Songs and Silence", 3),
        (dir.join("single.flac"), 0.02, "", 0),
    ];
    for (path, amplitude, album, n) in &files {
        tone(path, *amplitude, album, *n);
    }
    let catalog = common::catalog(&dir, 2.0);
    let paths: Vec<_> = files.iter().map(|f| f.0.clone()).collect();
    let ids = catalog.add(&paths);
    assert_eq!(ids.len(), 4);
    let library = std::sync::Arc::clone(catalog.library());
    let api = StreamApi::new(catalog, Access::Loopback);
    let chunk = |id: &sonance_stream::TrackId, q: &str| {
        get(
            &api,
            &format!(
                "/api/tracks/{}/chunks/0.webm?preset=adaptive&{q}",
                id.as_str()
            ),
        )
    };

    // Track mode measures only what it plays.
    let (status, quiet_track) = chunk(&ids[1], "loudness=track");
    assert_eq!(status, 200);
    assert!(ids.iter().all(|id| library.analysis(id).unwrap().is_none()));

    // Album mode: every track of the album measured and kept, the quiet one ~28 dB down.
    let (status, quiet_album) = chunk(&ids[1], "loudness=album");
    assert_eq!(status, 200);
    let lufs = |id| {
        let stored = library.analysis(id).unwrap().expect("loudness kept");
        let v: serde_json::Value = serde_json::from_slice(&stored).unwrap();
        v["loudness_lufs"].as_f64().unwrap()
    };
    let (l1, l2, l3) = (lufs(&ids[0]), lufs(&ids[1]), lufs(&ids[2]));
    assert!(
        (l1 - l3).abs() < 0.5 && (l1 - l2 - 28.0).abs() < 2.0,
        "{l1} {l2} {l3}"
    );
    assert!(
        library.analysis(&ids[3]).unwrap().is_none(),
        "not on the album"
    );
    // The quiet track is no longer pulled up to the target on its own.
    assert_ne!(quiet_album, quiet_track);
    // Asked again: the same rendering (the album's loudness is stable, the key the same).
    assert_eq!(chunk(&ids[1], "loudness=album"), (200, quiet_album));

    // A track on no album plays as in track mode.
    assert_eq!(
        chunk(&ids[3], "loudness=album"),
        chunk(&ids[3], "loudness=track")
    );

    // Anything else is refused, saying what is accepted.
    let (status, body) = chunk(&ids[1], "loudness=loud");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("'album'"));
    let _ = std::fs::remove_dir_all(&dir);
}
