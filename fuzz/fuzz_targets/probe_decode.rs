//! Any bytes, as a file with an audio extension: open, then render chunk 0 with the adaptive
//! preset, and chunk 0 again delivered from its middle (`at=`). Errors are fine; a panic, an
//! abort, a hang (libFuzzer's `-timeout`) or a blow-up (`-rss_limit_mb`) is a finding.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use sonance_cache::CacheConfig;
use sonance_engine::{Engine, EngineConfig, Enhancement, Preset};

/// The first byte picks the extension (the probe's hint); the rest is the file.
const EXTENSIONS: [&str; 10] = [
    "wav", "flac", "mp3", "m4a", "ogg", "mkv", "caf", "aiff", "webm", "opus",
];

fn scratch_file(ext: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sonance-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("input.{ext}"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let path = scratch_file(EXTENSIONS[usize::from(pick) % EXTENSIONS.len()]);
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let Ok(engine) = Engine::new(EngineConfig {
        chunk_seconds: 2.0,
        workers_per_chunk: 1,
        cache: CacheConfig {
            memory_bytes: 4 << 20,
            disk: None,
        },
        ..EngineConfig::default()
    }) else {
        return;
    };
    let Ok(track) = engine.open(&path) else {
        return;
    };
    let Ok(enh) = Enhancement::new(Preset::Adaptive, 1.0) else {
        return;
    };
    let _ = engine.render_chunk(&track, 0, &enh);
    let at = track.chunk_span_s(0).map(|(a, b)| (a + b) / 2.0).ok();
    let _ = engine.chunk_progressive(&track, 0, &enh, at, &mut |_| std::ops::ControlFlow::Continue(()));
    let last = track.plan().count().saturating_sub(1);
    let _ = engine.render_chunk(&track, last, &Enhancement::bypass());
});
