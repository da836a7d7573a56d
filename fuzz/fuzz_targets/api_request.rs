//! Any bytes as one request to the stream API of `sonance serve` (token access, a library
//! of one short track, the player core): routes, query values, ids, headers and bodies.
//! Every answer is fine; a panic, an abort, a hang (`-timeout`) or a blow-up
//! (`-rss_limit_mb`) is a finding.
//!
//! Input: the first byte picks the method; the rest is split at newlines into the target
//! (`path?query`, put under the token `/t` when the first byte's high bit is set; `{id}` in
//! it stands for the library's one track id), `Host`, `Origin` and the body.
#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sonance_cache::CacheConfig;
use sonance_engine::{Engine, EngineConfig};
use sonance_player::{ActorConfig, Player, PlayerHandle};
use sonance_stream::{Access, Catalog, Library, PlayerHost, StreamApi};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"];

/// One second of a 440 Hz tone, 16-bit mono WAV at 8 kHz.
fn write_tone(path: &Path) -> std::io::Result<()> {
    let frames = 8_000u32;
    let mut wav = Vec::with_capacity(44 + frames as usize * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + frames * 2).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8_000u32.to_le_bytes()); // rate
    wav.extend_from_slice(&16_000u32.to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(frames * 2).to_le_bytes());
    for i in 0..frames {
        let s = (f64::from(i) * 440.0 / 8_000.0 * std::f64::consts::TAU).sin() * 8_000.0;
        wav.extend_from_slice(&(s as i16).to_le_bytes());
    }
    std::fs::write(path, wav)
}

/// The API, and the id of its one track.
fn api() -> Option<&'static (StreamApi, String)> {
    static API: OnceLock<Option<(StreamApi, String)>> = OnceLock::new();
    API.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sonance-fuzz-api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let tone = dir.join("tone.wav");
        write_tone(&tone).ok()?;
        let engine = Engine::new(EngineConfig {
            chunk_seconds: 1.0,
            workers_per_chunk: 1,
            cache: CacheConfig {
                memory_bytes: 4 << 20,
                disk: None,
            },
            ..EngineConfig::default()
        })
        .ok()?;
        let library = Arc::new(Library::open(&dir.join("library.sqlite3")).ok()?);
        let catalog = Arc::new(Catalog::new(Arc::new(engine), Arc::clone(&library)));
        let id = catalog.add(&[tone]).first()?.as_str().to_string();
        let player = PlayerHandle::spawn(Player::new(1), ActorConfig::default()).ok()?;
        let host = Arc::new(PlayerHost::new(player, library));
        let access = Access::Token {
            token: "t".into(),
            any_host: false,
        };
        Some((StreamApi::new(catalog, access).with_player(host), id))
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some((api, id)) = api() else {
        return;
    };
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(4, |&b| b == b'\n');
    let text = |p: Option<&[u8]>| p.map(|b| String::from_utf8_lossy(b).into_owned());
    let target = text(parts.next()).unwrap_or_default().replace("{id}", id);
    let host = text(parts.next());
    let origin = text(parts.next());
    let body = parts.next().unwrap_or_default().to_vec();
    let target = if pick & 0x80 != 0 {
        format!("/t{target}")
    } else {
        target
    };
    // What hyper (or the web view) would hand over: a target or header that is not valid
    // HTTP never reaches the API.
    let mut req = http::Request::builder()
        .method(METHODS[usize::from(pick & 0x7f) % METHODS.len()])
        .uri(target);
    if let Some(host) = host {
        req = req.header(http::header::HOST, host);
    }
    if let Some(origin) = origin {
        req = req.header(http::header::ORIGIN, origin);
    }
    let Ok(req) = req.body(body) else {
        return;
    };
    let resp = api.handle(&req);
    assert!(
        (100..600).contains(&resp.status().as_u16()),
        "status {}",
        resp.status()
    );
});
