//! Edge inputs through every preset, end to end (analysis, chunks, Opus): silence, a single
//! click, DC offset, a mono file, a 10 ms file and a full-scale square wave. No NaN, no
//! infinity, no panic; silence stays exactly silent; the true peak stays under the ceiling.
//! And a track's chunks are the same bytes whatever was rendered before, in any engine.

// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sonance_engine::enhance::presets::CEILING_DBTP;
use sonance_engine::{Enhancement, Preset};

struct Case {
    name: &'static str,
    channels: u16,
    samples: Vec<f32>,
}

fn cases() -> Vec<Case> {
    let n = 48_000 * 3;
    let mut click = vec![0.0f32; n * 2];
    click[n] = 1.0;
    click[n + 1] = 1.0;
    let dc: Vec<f32> = (0..n * 2)
        .map(|i| 0.5 + 0.01 * ((i / 2) as f32 * 0.05).sin())
        .collect();
    let mono: Vec<f32> = onset_music(16.0, 0.5)
        .chunks_exact(2)
        .map(|f| f[0])
        .collect();
    vec![
        Case {
            name: "silence",
            channels: 2,
            samples: vec![0.0; n * 2],
        },
        Case {
            name: "click",
            channels: 2,
            samples: click,
        },
        Case {
            name: "dc",
            channels: 2,
            samples: dc,
        },
        Case {
            name: "mono",
            channels: 1,
            samples: mono,
        },
        Case {
            name: "10ms",
            channels: 2,
            samples: sine(0.01, 440.0, 0.5),
        },
        Case {
            name: "square",
            channels: 2,
            samples: square(5.0, 100.0),
        },
    ]
}

#[test]
fn edge_inputs_stay_finite_silent_and_under_the_ceiling() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = scratch(&format!("edge-{}", case.name));
        let path = dir.join(format!("{}.wav", case.name));
        write_wav(&path, 48_000, case.channels, &case.samples);
        let engine = engine(5.0, 1);
        let track = engine.open(&path).unwrap();
        for preset in Preset::ALL {
            for intensity in [0.5, 1.0] {
                let enh = Enhancement::new(preset, intensity).unwrap();
                let mut pcm = Vec::new();
                for n in 0..track.plan().count() {
                    pcm.extend(engine.chunk_pcm(&track, n, &enh).unwrap());
                }
                let (init, chunks) = render_all(&engine, &track, &enh);
                let decoded = play(&init, &chunks, Player::ChromiumLike);
                let what = format!("{} {}", case.name, enh.key());
                if !pcm.iter().chain(&decoded).all(|s| s.is_finite()) {
                    failures.push(format!("{what}: NaN or infinity"));
                    continue;
                }
                if case.name == "silence" && pcm.iter().any(|s| *s != 0.0) {
                    failures.push(format!("{what}: silence came out not silent"));
                }
                // The limiter's ceiling holds (sources already over it pass bypass as is).
                let limited = preset.processes() && intensity >= 0.25;
                if limited && pcm.len() >= 2 * 4800 {
                    let (_, tp) = ebur128_measure(&pcm);
                    if tp > CEILING_DBTP + 0.1 {
                        failures.push(format!("{what}: true peak {tp:+.2} dBTP before encoding"));
                    }
                }
            }
        }
        eprintln!("{}: every preset rendered", case.name);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn chunk_bytes_do_not_depend_on_order_or_engine() {
    let dir = scratch("edge-order");
    let path = dir.join("music.wav");
    write_wav(&path, 44_100, 2, &onset_music(25.0, 0.5));
    let enh = Enhancement::new(Preset::Adaptive, 0.8).unwrap();
    // One engine renders the last chunk first, another the first chunk first.
    let a = engine(10.0, 2);
    let ta = a.open(&path).unwrap();
    let last = ta.plan().count() - 1;
    let a_last = a.render_chunk(&ta, last, &enh).unwrap();
    let a_first = a.render_chunk(&ta, 0, &enh).unwrap();
    let b = engine(10.0, 2);
    let tb = b.open(&path).unwrap();
    let b_first = b.render_chunk(&tb, 0, &enh).unwrap();
    let b_last = b.render_chunk(&tb, last, &enh).unwrap();
    assert!(
        a_first == b_first,
        "chunk 0 depends on what was rendered before"
    );
    assert!(
        a_last == b_last,
        "the last chunk depends on what was rendered before"
    );
    // And the analysis behind them is the same.
    assert_eq!(
        a.analysis(&ta).unwrap().stats(),
        b.analysis(&tb).unwrap().stats()
    );
}
