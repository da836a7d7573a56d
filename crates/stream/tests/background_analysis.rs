//! The library analyses its tracks in the background and keeps each analysis, so a track's
//! first play with `adaptive` needs none: an engine that never saw the track takes the kept
//! analysis when the catalog opens it, renders nothing to analyse, and its bytes are those of
//! an engine that analysed the track itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sonance_engine::{Engine, EngineConfig, Enhancement, Preset};
use sonance_stream::Catalog;

#[test]
fn a_library_track_is_analysed_in_the_background_and_its_first_play_needs_no_analysis() {
    let dir = std::env::temp_dir().join(format!("sonance-bg-analysis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("long.wav");
    common::write_noise_wav(&path, 40.0);

    let catalog = common::catalog(&dir, 10.0);
    let ids = catalog.add(std::slice::from_ref(&path));
    assert_eq!(ids.len(), 1);
    let id = ids[0].clone();
    let library = Arc::clone(catalog.library());
    catalog.start_background().unwrap();

    // Kept within a minute (a few hundred ms of work on a low-priority thread).
    let t0 = Instant::now();
    let stored = loop {
        let kept = library.analysis(&id).unwrap();
        let v: Option<serde_json::Value> = kept.and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(v) = v.filter(|v| v["engine"].is_string()) {
            break v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no analysis kept after a minute"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(stored["loudness_lufs"].as_f64().unwrap() < 0.0);
    assert!((stored["seconds"].as_f64().unwrap() - 40.0).abs() < 0.01);

    // A new engine over the same library: the catalog primes it when it opens the track.
    let config = || EngineConfig {
        chunk_seconds: 10.0,
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::new(config()).unwrap());
    let second = Catalog::new(Arc::clone(&engine), Arc::clone(&library));
    let track = second.get(&id).unwrap().track.unwrap();
    let adaptive = Enhancement::new(Preset::Adaptive, 1.0).unwrap();
    let got = engine.chunk(&track, 0, &adaptive).unwrap();
    assert!(
        !engine.analysis(&track).unwrap().has_excerpts(),
        "the first chunk was rendered without analysing the track"
    );

    // The same bytes as an engine that analysed the track on its own.
    let alone = Engine::new(config()).unwrap();
    let own = alone.open(&path).unwrap();
    assert!(alone.chunk(&own, 0, &adaptive).unwrap()[..] == got[..]);
    drop(second);
    drop(catalog);
    let _ = std::fs::remove_dir_all(&dir);
}
