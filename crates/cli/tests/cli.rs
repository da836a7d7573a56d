//! The `sonance` command as a user runs it: real files, real exit codes, real output.
// Tests fail loudly on any unexpected error: unwrap is the assertion.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn sonance() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sonance"))
}

/// Run with a deadline: a hang is a failure, not a stuck test run.
fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("sonance hung: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sonance-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ffmpeg(args: &[&str]) {
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg is installed (scripts/setup.sh installs it)");
    assert!(ok.success());
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A bad input: non-zero exit, one clear line that names the file, no panic.
fn assert_clear_failure(o: &Output, file: &Path, says: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "succeeded on {}", file.display());
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains(&*file.file_name().unwrap().to_string_lossy()),
        "does not name the file: {err}"
    );
    assert!(err.contains(says), "expected '{says}' in: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "more than one line: {err}"
    );
}

#[test]
fn bad_files_fail_clearly() {
    let d = dir("bad");
    let empty = d.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let random = d.join("noise.mp3");
    let bytes: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&random, bytes).unwrap();
    let png = d.join("picture.flac");
    let mut png_bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png_bytes.extend((0..4000u32).map(|i| (i * 7) as u8));
    std::fs::write(&png, png_bytes).unwrap();
    let missing = d.join("missing.ogg");
    for (file, says) in [
        (&empty, "the file is empty"),
        (&random, "not an audio file"),
        (&png, "not an audio file"),
        (&missing, "cannot read"),
    ] {
        for sub in [
            vec!["render", "--out", d.join("out").to_str().unwrap()],
            vec!["analyze"],
            vec!["bench"],
        ] {
            let mut cmd = sonance();
            cmd.arg(sub[0]).arg(file).args(&sub[1..]);
            assert_clear_failure(&run(&mut cmd), file, says);
        }
    }
}

#[test]
fn truncated_files_render_their_decodable_part_with_a_warning() {
    let d = dir("trunc");
    for ext in ["flac", "mp3"] {
        let full = d.join(format!("full.{ext}"));
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:d=12",
            "-ac",
            "2",
            full.to_str().unwrap(),
        ]);
        let bytes = std::fs::read(&full).unwrap();
        let cut = d.join(format!("cut.{ext}"));
        std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10 + 33]).unwrap(); // mid-frame
        let out = d.join(format!("out-{ext}"));
        let o = run(sonance().args([
            "render",
            cut.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--chunk-seconds",
            "5",
        ]));
        let err = stderr(&o);
        assert!(o.status.success(), "{ext}: {err}");
        assert!(
            err.contains("warning:") && err.contains("truncated"),
            "{ext}: no warning: {err}"
        );
        assert!(
            out.join("chunk-00002.webm").is_file(),
            "{ext}: chunks missing"
        );
    }
}

#[test]
fn absurd_parameters_are_refused() {
    let d = dir("params");
    let f = d.join("a.wav");
    ffmpeg(&["-f", "lavfi", "-i", "sine=d=2", f.to_str().unwrap()]);
    let out = d.join("out");
    for (args, says) in [
        (vec!["--chunk-seconds", "0"], "chunk length"),
        (vec!["--chunk-seconds", "1.333"], "multiple of 20 ms"),
        (vec!["--chunk-seconds", "1e9"], "chunk length"),
        (vec!["--intensity", "5"], "intensity"),
        (vec!["--intensity", "-1"], "intensity"),
        (vec!["--preset", "loudest"], "unknown preset"),
    ] {
        let o = run(sonance()
            .args([
                "render",
                f.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .args(&args));
        let err = stderr(&o);
        assert!(
            !o.status.success() && err.contains(says) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn render_writes_manifest_chunks_and_matching_pcm() {
    let d = dir("render");
    let f = d.join("song.flac");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=pink:d=11.5:a=0.3",
        "-ar",
        "44100",
        "-ac",
        "2",
        f.to_str().unwrap(),
    ]);
    let out = d.join("out");
    let o = run(sonance().args([
        "render",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--chunk-seconds",
        "5",
        "--pcm",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["sample_rate"], 48_000);
    assert_eq!(m["channels"], 2);
    assert_eq!(m["chunk_seconds"], 5.0);
    assert_eq!(m["mime"], "audio/webm; codecs=\"opus\"");
    assert!((m["duration_s"].as_f64().unwrap() - 11.5).abs() < 1e-6);
    let chunks = m["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[2]["start_s"], 10.0);
    assert!((chunks[2]["end_s"].as_f64().unwrap() - 11.5).abs() < 1e-6);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c["index"], i);
        let file = out.join(format!("chunk-{i:05}.webm"));
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            c["bytes"].as_u64().unwrap()
        );
        assert!(c["millis"].as_f64().unwrap() > 0.0);
    }
    assert!(out.join("init.webm").is_file());
    let (chunked, continuous) = (
        read_f32(&out.join("chunked.f32")),
        read_f32(&out.join("continuous.f32")),
    );
    assert_eq!(chunked.len(), 11 * 48_000 * 2 + 48_000);
    assert_eq!(chunked.len(), continuous.len());
    let db = peak_difference_db(&chunked, &continuous);
    assert!(
        db <= -90.0,
        "chunked differs from continuous by {db:.1} dBFS"
    );
    assert!(
        continuous.iter().any(|s| s.abs() > 0.05),
        "continuous.f32 is silent"
    );
}

/// The samples of a little-endian f32 file.
fn read_f32(p: &Path) -> Vec<f32> {
    std::fs::read(p)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Peak of `a - b` in dBFS.
fn peak_difference_db(a: &[f32], b: &[f32]) -> f64 {
    let peak = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    20.0 * f64::from(peak.max(1e-20)).log10()
}

#[test]
fn render_pcm_chunked_equals_continuous_for_every_preset_and_intensity() {
    let d = dir("render-presets");
    let f = d.join("song.flac");
    // Drums-like bursts over pink noise, so compressors and limiters work across the joins.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=pink:d=7:a=0.2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=60:d=7,volume='if(lt(mod(t,0.5),0.12),1.6,0.1)':eval=frame",
        "-filter_complex",
        "amix=inputs=2:normalize=0",
        "-ar",
        "44100",
        "-ac",
        "2",
        f.to_str().unwrap(),
    ]);
    let o = run(sonance().args(["presets", "--json"]));
    let presets: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut failures = Vec::new();
    for p in presets.as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        for intensity in ["0", "0.5", "1"] {
            let out = d.join(format!("{name}-{intensity}"));
            let o = run(sonance().args([
                "render",
                f.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--chunk-seconds",
                "2",
                "--preset",
                name,
                "--intensity",
                intensity,
                "--pcm",
            ]));
            assert!(o.status.success(), "{name} {intensity}: {}", stderr(&o));
            let chunked = read_f32(&out.join("chunked.f32"));
            let continuous = read_f32(&out.join("continuous.f32"));
            assert_eq!(chunked.len(), 7 * 48_000 * 2, "{name} {intensity}");
            assert_eq!(chunked.len(), continuous.len(), "{name} {intensity}");
            assert!(
                continuous.iter().any(|s| s.abs() > 0.05),
                "{name} {intensity}: continuous.f32 is silent"
            );
            let db = peak_difference_db(&chunked, &continuous);
            if db > -90.0 {
                failures.push(format!(
                    "{name} @ {intensity}: chunked differs by {db:.1} dBFS"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn analyze_bench_and_presets_print_json() {
    let d = dir("json");
    let f = d.join("tone.wav");
    // A mono 1 kHz sine of peak 0.1 (ffmpeg's sine is 1/8 full scale, × 0.8) plays on both
    // channels at full level: -20 dBTP and, by BS.1770's calibration, -20 LUFS.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=1000:d=6",
        "-af",
        "volume=0.8",
        "-ar",
        "44100",
        f.to_str().unwrap(),
    ]);
    let o = run(sonance().arg("analyze").arg(&f));
    assert!(o.status.success(), "{}", stderr(&o));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(a["sample_rate"], 44_100);
    assert_eq!(a["channels"], 1);
    assert_eq!(a["codec"], "pcm_s16le");
    assert!((a["duration_s"].as_f64().unwrap() - 6.0).abs() < 1e-3);
    assert!(
        (a["integrated_lufs"].as_f64().unwrap() + 20.0).abs() < 0.5,
        "{a}"
    );
    assert!(
        (a["true_peak_dbtp"].as_f64().unwrap() + 20.0).abs() < 0.5,
        "{a}"
    );

    let o = run(sonance()
        .arg("bench")
        .arg(&f)
        .args(["--chunk-seconds", "2"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in [
        "realtime_factor",
        "first_chunk_ms",
        "cached_chunk_ms",
        "peak_rss_mb",
    ] {
        assert!(b[k].as_f64().unwrap() > 0.0, "{k} in {b}");
    }
    assert!(b["cached_chunk_ms"].as_f64() < b["first_chunk_ms"].as_f64());

    let o = run(sonance().args(["presets", "--json"]));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = p
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "adaptive",
            "gentle",
            "warm",
            "bright",
            "punchy",
            "bypass",
            "original-matched"
        ]
    );
}

#[test]
fn scan_adds_a_folder_and_a_rescan_reads_only_what_changed() {
    let d = dir("scan");
    let music = d.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for (i, title) in ["Alpha", "Beta"].iter().enumerate() {
        let f = music.join(format!("{i}.flac"));
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=d=1",
            "-metadata",
            &format!("title={title}"),
            f.to_str().unwrap(),
        ]);
    }
    std::fs::write(music.join("broken.mp3"), b"not audio at all").unwrap();
    let db = d.join("library.sqlite3");
    let scan = |folders: &[&Path]| {
        let mut cmd = sonance();
        cmd.arg("scan").arg("--library-db").arg(&db).args(folders);
        let o = run(&mut cmd);
        assert!(o.status.success(), "{}", stderr(&o));
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (json, stderr(&o))
    };
    let (first, err) = scan(&[&music]);
    // The broken file is listed too (with why it cannot play), not skipped.
    assert_eq!(first["added"], 3, "{first}");
    assert!(!err.contains("panicked"), "{err}");
    // Nothing changed: nothing is read again (the folder is remembered).
    let (second, _) = scan(&[]);
    assert_eq!(second["added"], 0, "{second}");
    assert_eq!(second["unchanged"], 3, "{second}");
    std::fs::remove_file(music.join("1.flac")).unwrap();
    let (third, _) = scan(&[]);
    assert_eq!(third["missing"], 1, "{third}");
    assert_eq!(third["unchanged"], 2, "{third}");
}
