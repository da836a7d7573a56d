//! Scan benchmark: `cargo run --release -p sonance-library --example scan_bench -- [N]`.
//! `-- --search-only [COPY]` runs only the search part; `-- --fill DB N` writes a library of
//! N synthetic tracks (for the page benchmark) and exits.
//!
//! Generates N (default 5000) small tagged files (one MP3 and one FLAC made by ffmpeg, copied
//! with varied tags written by lofty), then measures a cold scan, a rescan with nothing
//! changed, search latency on 100 000 rows, and `ffprobe -show_format` one file at a time as
//! a reference.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use lofty::config::WriteOptions;
use lofty::file::TaggedFileExt;
use lofty::tag::{Accessor, TagExt};
use sonance_library::{Library, TrackQuery};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const WORDS: &[&str] = &[
    "love", "night", "blue", "fire", "river", "dream", "city", "heart", "gold", "rain", "summer",
    "shadow", "light", "road", "ocean", "Beyoncé", "Zoë", "Mötley", "echo", "storm", "velvet",
    "neon", "winter", "paper", "glass",
];

fn word(i: usize) -> &'static str {
    WORDS[i % WORDS.len()]
}

fn ffmpeg(args: &[&str]) -> Res<()> {
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .status()?;
    if !st.success() {
        return Err(format!("ffmpeg {args:?} failed").into());
    }
    Ok(())
}

fn generate(dir: &Path, n: usize) -> Res<Vec<PathBuf>> {
    let seeds = [dir.join("seed.mp3"), dir.join("seed.flac")];
    for (seed, codec) in seeds.iter().zip(["libmp3lame", "flac"]) {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-c:a",
            codec,
            "-metadata",
            "title=Seed",
            "-metadata",
            "artist=Seed",
            "-metadata",
            "album=Seed",
            seed.to_str().ok_or("path")?,
        ])?;
    }
    let music = dir.join("music");
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let seed = &seeds[i % 2];
        let ext = if i % 2 == 0 { "mp3" } else { "flac" };
        let sub = music.join(format!("{} {}", word(i / 100), i / 100));
        std::fs::create_dir_all(&sub)?;
        let path = sub.join(format!("{:05} {}.{ext}", i, word(i * 7)));
        std::fs::copy(seed, &path)?;
        let mut tagged = lofty::read_from_path(&path)?;
        if let Some(tag) = tagged.primary_tag_mut() {
            tag.set_title(format!("{} {} {i}", word(i * 3), word(i * 5)));
            tag.set_artist(format!("{} {}", word(i / 100), word(i / 300)));
            tag.set_album(format!("{} {}", word(i / 10), i / 10));
            tag.set_track((i % 10) as u32 + 1);
            tag.set_genre(word(i / 50).to_string());
            tag.save_to_path(&path, WriteOptions::default())?;
        }
        files.push(path);
    }
    Ok(files)
}

/// Build a library of `n` synthetic rows (tags only, no files) at `path`, with `missing` of
/// them marked missing.
fn build_big(path: &Path, n: usize, missing: usize) -> Res<()> {
    drop(Library::open(path)?);
    let mut c = rusqlite::Connection::open(path)?;
    let tx = c.transaction()?;
    {
        let mut st = tx.prepare(
            "INSERT INTO tracks (id, path, size, mtime, title, artist, album, album_artist,
                genre, track_no, added_at, album_id, missing)
             VALUES (?1, ?2, 1, 1, ?3, ?4, ?5, ?4, ?6, ?7, 0, ?8, ?9)",
        )?;
        let every = n.checked_div(missing).unwrap_or(usize::MAX);
        for i in 0..n {
            st.execute(rusqlite::params![
                format!("{i:016x}"),
                format!("/music/{i}.mp3"),
                format!("{} {} {}", word(i * 3), word(i * 7 + 1), word(i / 11)),
                format!("{} {}", word(i / 100), word(i / 1300)),
                format!("{} {}", word(i / 10), i / 10),
                word(i / 50),
                (i % 12) as i64 + 1,
                format!("{:016x}", i / 10),
                i % every == every / 2,
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The search as it was before the index-only count (the reference): every match joined to
/// its row, ranked with bm25 and counted.
fn old_search(c: &rusqlite::Connection, q: &str, offset: u64, include_missing: bool) -> Res<usize> {
    let Some(m) = sonance_library::fts_query(q) else {
        return Ok(0);
    };
    let missing = if include_missing {
        ""
    } else {
        " AND t.missing = 0"
    };
    let from = "tracks t JOIN tracks_fts ON tracks_fts.rowid = t.num";
    let nums: Vec<i64> = c
        .prepare_cached(&format!(
            "SELECT t.num FROM {from} WHERE tracks_fts MATCH ?1{missing}
             ORDER BY bm25(tracks_fts) ASC, t.path ASC, t.id ASC LIMIT 100 OFFSET {offset}"
        ))?
        .query_map([&m], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let _total: i64 = c
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM {from} WHERE tracks_fts MATCH ?1{missing}"
        ))?
        .query_row([&m], |r| r.get(0))?;
    let list = nums
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let rows = c
        .prepare(&format!("SELECT * FROM tracks WHERE num IN ({list})"))?
        .query_map([], |r| r.get::<_, String>(1))?
        .count();
    Ok(rows)
}

/// CPU time of this thread so far: what a query costs without the time other processes
/// held the cores.
fn thread_cpu() -> Duration {
    cpu_clock(rustix::time::ClockId::ThreadCPUTime)
}

/// CPU time of every thread of this process so far.
fn process_cpu() -> Duration {
    cpu_clock(rustix::time::ClockId::ProcessCPUTime)
}

fn cpu_clock(id: rustix::time::ClockId) -> Duration {
    let ts = rustix::time::clock_gettime(id);
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Wall and CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> Res<T>) -> Res<(T, Duration, Duration)> {
    let (c, t) = (thread_cpu(), Instant::now());
    let out = f()?;
    Ok((out, t.elapsed(), thread_cpu().saturating_sub(c)))
}

/// Search latency per query kind on 100 000 synthetic rows (50 missing), the library against
/// the old query in the same run (alternating). Returns (p50, p95) of wall time over every
/// query of the library.
fn search_bench(dir: &Path) -> Res<(Duration, Duration)> {
    let big = dir.join("big.sqlite3");
    build_big(&big, 100_000, 50)?;
    let lib = Library::open(&big)?;
    let old = rusqlite::Connection::open(&big)?;
    old.execute_batch("PRAGMA cache_size = -8000; PRAGMA mmap_size = 268435456;")?;
    let queries = [
        ("one letter", "b"),
        ("two letters", "lo"),
        ("three letters", "mot"),
        ("a word", "ocean"),
        ("a word, accent folded", "beyonce"),
        ("two words", "night riv"),
        ("two words", "zoe gold"),
        ("three words", "velvet neon 12"),
        ("three words, no match", "paper glass 1234"),
    ];
    const ROUNDS: usize = 40;
    let (mut all_new, mut all_new_cpu, mut all_old, mut all_old_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    println!("| query | kind | matches | library wall p50 / p95 | library CPU p50 / p95 | missing listed too (API), wall | reference (old query) wall | reference CPU |");
    println!("|---|---|---|---|---|---|---|---|");
    for (kind, text) in queries {
        let (mut new, mut new_cpu, mut api) = (Vec::new(), Vec::new(), Vec::new());
        let (mut reference, mut reference_cpu) = (Vec::new(), Vec::new());
        let mut total = 0;
        for round in 0..ROUNDS {
            let offset = (round as u64 % 3) * 100;
            for include_missing in [false, true] {
                let (page, wall, cpu) = timed(|| {
                    Ok(lib.tracks(&TrackQuery {
                        q: Some(text.to_string()),
                        limit: 100,
                        offset,
                        include_missing,
                        ..TrackQuery::default()
                    })?)
                })?;
                if include_missing {
                    api.push(wall);
                } else {
                    new.push(wall);
                    new_cpu.push(cpu);
                    total = page.total;
                }
                assert!(page.items.len() as u64 <= 100);
            }
            let (_, wall, cpu) = timed(|| old_search(&old, text, offset, false))?;
            reference.push(wall);
            reference_cpu.push(cpu);
        }
        println!(
            "| `{text}` | {kind} | {total} | {} | {} | {} | {} | {} |",
            pct(&new),
            pct(&new_cpu),
            pct(&api),
            pct(&reference),
            pct(&reference_cpu)
        );
        all_new.extend(new.iter().chain(&api).copied());
        all_new_cpu.extend(new_cpu);
        all_old.extend(reference);
        all_old_cpu.extend(reference_cpu);
    }
    println!(
        "| **all** | | | **{}** (with the API column) | **{}** | | {} | {} |",
        pct(&all_new),
        pct(&all_new_cpu),
        pct(&all_old),
        pct(&all_old_cpu)
    );
    Ok((quantile(all_new.clone(), 50), quantile(all_new, 95)))
}

fn pct(v: &[Duration]) -> String {
    format!(
        "{:.2} / {:.2} ms",
        quantile(v.to_vec(), 50).as_secs_f64() * 1e3,
        quantile(v.to_vec(), 95).as_secs_f64() * 1e3
    )
}

fn quantile(mut v: Vec<Duration>, q: usize) -> Duration {
    v.sort();
    v[(v.len() * q / 100).min(v.len() - 1)]
}

fn main() -> Res<()> {
    if std::env::args().nth(1).as_deref() == Some("--fill") {
        // For the page benchmark (tests/e2e/bench/library-bench.mjs): a library of N rows.
        let (Some(path), Some(n)) = (std::env::args().nth(2), std::env::args().nth(3)) else {
            return Err("usage: scan_bench --fill DB N".into());
        };
        let n: usize = n.parse()?;
        build_big(Path::new(&path), n, 0)?;
        println!("{path}: {n} tracks");
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("--search-only") {
        let tmp = tempfile::tempdir()?;
        let (p50, p95) = search_bench(tmp.path())?;
        if let Some(keep) = std::env::args().nth(2) {
            std::fs::copy(tmp.path().join("big.sqlite3"), keep)?;
        }
        println!("search on 100 000 rows, limit 100: p50 {p50:.2?}, p95 {p95:.2?}");
        return Ok(());
    }
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5000);
    let tmp = tempfile::tempdir()?;
    let t = Instant::now();
    let files = generate(tmp.path(), n)?;
    eprintln!("generated {n} files in {:.1?}", t.elapsed());

    // Cold scan.
    let lib = Library::open(&tmp.path().join("lib.sqlite3"))?;
    lib.add_folder(&tmp.path().join("music"))?;
    let (t, c) = (Instant::now(), process_cpu());
    let report = lib.scan(&AtomicBool::new(false), &|_| {})?;
    let (cold, cold_cpu) = (t.elapsed(), process_cpu().saturating_sub(c));
    assert_eq!(report.added as usize, n, "{report:?}");

    // Rescan, nothing changed.
    let (t, c) = (Instant::now(), process_cpu());
    let again = lib.scan(&AtomicBool::new(false), &|_| {})?;
    let (warm, warm_cpu) = (t.elapsed(), process_cpu().saturating_sub(c));
    assert_eq!(again.unchanged as usize, n);

    let (search_p50, search_p95) = search_bench(tmp.path())?;

    // Reference: ffprobe, one process per file.
    let sample: Vec<&PathBuf> = files.iter().step_by((n / 200).max(1)).take(200).collect();
    let t = Instant::now();
    for f in &sample {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-show_format", "-of", "json"])
            .arg(f)
            .output()?;
        if !out.status.success() {
            return Err(format!("ffprobe {} failed", f.display()).into());
        }
    }
    let probe = t.elapsed();
    let probe_rate = sample.len() as f64 / probe.as_secs_f64();

    println!("| measure | value |");
    println!("|---|---|");
    println!("| files | {n} (half MP3, half FLAC, 1 s each) |");
    println!(
        "| cold scan | {:.2} s = {:.0} files/s ({:.2} s of CPU, all threads) |",
        cold.as_secs_f64(),
        n as f64 / cold.as_secs_f64(),
        cold_cpu.as_secs_f64()
    );
    println!(
        "| rescan, nothing changed | {:.3} s = {:.0} files/s ({:.3} s of CPU) |",
        warm.as_secs_f64(),
        n as f64 / warm.as_secs_f64(),
        warm_cpu.as_secs_f64()
    );
    println!(
        "| search on 100 000 rows (limit 100, table above), wall | p50 {:.2} ms, p95 {:.2} ms |",
        search_p50.as_secs_f64() * 1e3,
        search_p95.as_secs_f64() * 1e3
    );
    println!(
        "| reference: ffprobe -show_format per file ({} files) | {:.0} files/s (≈ {:.1} s for {n}) |",
        sample.len(),
        probe_rate,
        n as f64 / probe_rate
    );
    Ok(())
}
