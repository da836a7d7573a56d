//! A generated library of every format and odd names: scanning, fields, search, browse,
//! sort, paging, covers, rescans.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use common::*;
use sonance_library::{
    AlbumQuery, Error, Library, Sort, SortKey, TrackId, TrackQuery, TrackRecord,
};

fn scan(lib: &Library) -> sonance_library::ScanReport {
    lib.scan(&AtomicBool::new(false), &|_| {}).unwrap()
}

fn by_path(lib: &Library, path: &Path) -> TrackRecord {
    lib.track(&TrackId::for_path(path))
        .unwrap()
        .unwrap_or_else(|| panic!("{} is in the library", path.display()))
}

fn all(lib: &Library, q: TrackQuery) -> Vec<TrackRecord> {
    lib.tracks(&TrackQuery { limit: 1000, ..q }).unwrap().items
}

fn titles(tracks: &[TrackRecord]) -> Vec<String> {
    tracks.iter().map(|t| t.title.clone()).collect()
}

fn search(lib: &Library, q: &str) -> Vec<String> {
    titles(&all(
        lib,
        TrackQuery {
            q: Some(q.to_string()),
            ..TrackQuery::default()
        },
    ))
}

struct Fixture {
    _tmp: tempfile::TempDir,
    music: PathBuf,
    music2: PathBuf,
    db: PathBuf,
}

/// The library of the brief: every format, odd names, a big cover, a folder image, a
/// corrupt file, an unreadable folder, a symlink loop, two folders.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    let music2 = tmp.path().join("music2");
    let a = music.join("Sasha Fierce");
    let fierce = |t: &'static str, n: &'static str| {
        let mut v = tags(t, "Beyoncé", "I Am... Sasha Fierce", n);
        v.push(("album_artist", "Beyoncé"));
        v.push(("date", "2008"));
        v.push(("genre", "R&B"));
        v.push(("disc", "1"));
        v
    };
    tone(
        &a.join("Beyoncé — Halo.flac"),
        FLAC,
        &fierce("Halo", "3"),
        440,
    );
    tone(
        &a.join("01 If I Were a Boy.mp3"),
        MP3,
        &fierce("If I Were a Boy", "1"),
        330,
    );
    tone(
        &a.join("02 Single Ladies.ogg"),
        VORBIS,
        &fierce("Single Ladies", "2"),
        550,
    );
    tone(
        &a.join("🎵 Sweet Dreams.opus"),
        OPUS,
        &fierce("Sweet Dreams", "4"),
        660,
    );
    // Disc 2 track 1 sorts after disc 1 track 4.
    let mut d2 = fierce("Video Phone", "1");
    d2.retain(|(k, _)| *k != "disc");
    d2.push(("disc", "2"));
    tone(&a.join("-dash Video Phone.m4a"), AAC, &d2, 770);

    let b = music.join("Other Album");
    let other = |t: &'static str, n: &'static str| {
        let mut v = tags(t, "The Testers", "Other Album", n);
        v.push(("date", "1999"));
        v.push(("genre", "Rock"));
        v
    };
    tone(
        &b.join("a lossless.m4a"),
        ALAC,
        &other("Lossless Song", "2"),
        500,
    );
    tone(&b.join("b wave.wav"), WAV, &other("Wave Song", "1"), 520);
    image_file(&b.join("Folder.JPG"), 300, 300, false);
    std::os::unix::fs::symlink("..", b.join("loop")).unwrap();

    // No tags at all: the title comes from the file name.
    tone(
        &music.join("no tags here.mp3"),
        &[MP3, &["-map_metadata", "-1"]].concat(),
        &[],
        600,
    );
    std::fs::write(music.join("corrupt.mp3"), noise(64 * 1024)).unwrap();
    std::fs::write(music.join("notes.txt"), "not audio").unwrap();

    // A FLAC with a ~5 MB embedded PNG cover.
    let big = tmp.path().join("big.png");
    image_file(&big, 1300, 1300, true);
    let plain = tmp.path().join("plain.flac");
    tone(
        &plain,
        FLAC,
        &tags("Big Cover", "Cover Artist", "Covers", "1"),
        440,
    );
    ffmpeg(&[
        "-i",
        plain.to_str().unwrap(),
        "-i",
        big.to_str().unwrap(),
        "-map",
        "0",
        "-map",
        "1",
        "-c",
        "copy",
        "-disposition:v",
        "attached_pic",
        music.join("big cover.flac").to_str().unwrap(),
    ]);

    let locked = music.join("locked");
    tone(
        &locked.join("secret.mp3"),
        MP3,
        &tags("Secret", "Nobody", "Hidden", "1"),
        450,
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    }

    tone(
        &music2.join("second folder.mp3"),
        MP3,
        &tags("Second", "Zed", "Zed Album", "1"),
        480,
    );
    tone(
        &music2.join("sub dir/deeper.flac"),
        FLAC,
        &tags("Deeper", "Zed", "Zed Album", "2"),
        490,
    );

    let db = tmp.path().join("data/library.sqlite3");
    Fixture {
        _tmp: tmp,
        music,
        music2,
        db,
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            self.music.join("locked"),
            std::fs::Permissions::from_mode(0o755),
        );
    }
}

#[test]
fn a_generated_library_scans_with_the_right_fields() {
    let f = fixture();
    let enforced = permissions_enforced(f._tmp.path());
    let lib = Library::open(&f.db).unwrap();
    let id1 = lib.add_folder(&f.music).unwrap();
    let id2 = lib.add_folder(&f.music2).unwrap();
    assert_ne!(id1, id2);
    assert_eq!(
        lib.add_folder(&f.music).unwrap(),
        id1,
        "adding twice is one folder"
    );
    assert_eq!(lib.folders().unwrap().len(), 2);

    let progress = std::cell::RefCell::new(Vec::new());
    let report = lib
        .scan(&AtomicBool::new(false), &|p| progress.borrow_mut().push(p))
        .unwrap();
    let secret = if enforced { 0 } else { 1 };
    // 5 + 2 + no tags + corrupt + big cover + 2 in music2 (+ the locked one as root).
    assert_eq!(report.added, 12 + secret, "{report:?}");
    assert_eq!(
        (report.updated, report.unchanged, report.missing),
        (0, 0, 0)
    );
    let last = progress.borrow().last().cloned().unwrap();
    assert_eq!(last.phase, sonance_library::ScanPhase::Done);
    assert_eq!(last.done, 12 + secret);
    assert_eq!(lib.scan_status(), None, "no scan runs now");
    let corrupt = canon(&f.music.join("corrupt.mp3"));
    assert!(
        report.errors.iter().any(|(p, _)| p == &corrupt),
        "{:?}",
        report.errors
    );
    if enforced {
        assert!(report.errors.iter().any(|(p, _)| p.ends_with("locked")));
    }

    // Fields, format by format.
    let halo = by_path(&lib, &f.music.join("Sasha Fierce/Beyoncé — Halo.flac"));
    assert_eq!(halo.title, "Halo");
    assert_eq!(halo.artist.as_deref(), Some("Beyoncé"));
    assert_eq!(halo.album.as_deref(), Some("I Am... Sasha Fierce"));
    assert_eq!(halo.album_artist.as_deref(), Some("Beyoncé"));
    assert_eq!(
        (halo.track_no, halo.disc_no, halo.year),
        (Some(3), Some(1), Some(2008))
    );
    assert_eq!(halo.genre.as_deref(), Some("R&B"));
    assert_eq!(halo.codec.as_deref(), Some("FLAC"));
    assert_eq!((halo.sample_rate, halo.channels), (Some(44100), Some(1)));
    assert!(
        (halo.duration_s.unwrap() - 1.0).abs() < 0.05,
        "{:?}",
        halo.duration_s
    );
    assert!(halo.playable && !halo.missing && halo.error.is_none());
    assert_eq!(halo.folder_id, Some(id1));
    assert_eq!(halo.id, TrackId::for_path(&halo.path));
    assert!(!halo.has_cover);
    let json = serde_json::to_value(&halo).unwrap();
    assert_eq!(json["missing"], false);
    assert_eq!(json["id"], halo.id.as_str());
    assert!(json["error"].is_null());

    let codecs = [
        (
            "Sasha Fierce/01 If I Were a Boy.mp3",
            "MP3",
            "If I Were a Boy",
        ),
        (
            "Sasha Fierce/02 Single Ladies.ogg",
            "Vorbis",
            "Single Ladies",
        ),
        ("Sasha Fierce/🎵 Sweet Dreams.opus", "Opus", "Sweet Dreams"),
        ("Sasha Fierce/-dash Video Phone.m4a", "AAC", "Video Phone"),
        ("Other Album/a lossless.m4a", "ALAC", "Lossless Song"),
        ("Other Album/b wave.wav", "WAV", "Wave Song"),
        ("no tags here.mp3", "MP3", "no tags here"),
    ];
    for (path, codec, title) in codecs {
        let t = by_path(&lib, &f.music.join(path));
        assert_eq!(t.codec.as_deref(), Some(codec), "{path}");
        assert_eq!(t.title, title, "{path}");
        assert!(t.playable, "{path}: {:?}", t.error);
        assert!(
            t.duration_s.unwrap() > 0.9 && t.duration_s.unwrap() < 1.2,
            "{path}: {:?}",
            t.duration_s
        );
        assert!(t.sample_rate.is_some(), "{path}");
    }
    let opus = by_path(&lib, &f.music.join("Sasha Fierce/🎵 Sweet Dreams.opus"));
    assert_eq!(opus.track_no, Some(4));
    let notags = by_path(&lib, &f.music.join("no tags here.mp3"));
    assert_eq!(
        (
            notags.artist.clone(),
            notags.album.clone(),
            notags.album_id.clone()
        ),
        (None, None, None)
    );
    let wav = by_path(&lib, &f.music.join("Other Album/b wave.wav"));
    assert_eq!(wav.artist.as_deref(), Some("The Testers"));
    assert!(wav.has_cover, "Folder.JPG next to it");

    let bad = by_path(&lib, &f.music.join("corrupt.mp3"));
    assert!(!bad.playable);
    assert_eq!(bad.title, "corrupt");
    let reason = bad.error.clone().unwrap();
    eprintln!("corrupt file: {reason}");
    eprintln!("{}", serde_json::to_string_pretty(&halo).unwrap());
    assert!(
        reason.contains("not an audio file") || reason.contains("damaged"),
        "{reason}"
    );
    let json = serde_json::to_value(&bad).unwrap();
    assert_eq!(json["error"], reason.as_str());

    let big = by_path(&lib, &f.music.join("big cover.flac"));
    assert!(big.has_cover && big.playable, "{big:?}");

    let deeper = by_path(&lib, &f.music2.join("sub dir/deeper.flac"));
    assert_eq!(deeper.folder_id, Some(id2));

    // The symlink loop did not duplicate anything.
    let everything = all(
        &lib,
        TrackQuery {
            include_missing: true,
            ..TrackQuery::default()
        },
    );
    let paths: HashSet<_> = everything.iter().map(|t| t.path.clone()).collect();
    assert_eq!(paths.len(), everything.len());
    assert_eq!(everything.len() as u64, 12 + secret);
}

#[test]
fn search_browse_sort_and_paging() {
    let f = fixture();
    let lib = Library::open(&f.db).unwrap();
    lib.add_folder(&f.music).unwrap();
    lib.add_folder(&f.music2).unwrap();
    scan(&lib);

    assert!(search(&lib, "beyonce").contains(&"Halo".to_string()));
    assert_eq!(search(&lib, "beyonce").len(), 5);
    assert_eq!(search(&lib, "BEY").len(), 5);
    assert_eq!(search(&lib, "halo bey"), vec!["Halo"]);
    assert_eq!(search(&lib, "bey halo"), vec!["Halo"]);
    assert_eq!(search(&lib, "single"), vec!["Single Ladies"]);
    assert!(search(&lib, "halo zzz").is_empty(), "every word must match");
    // FTS syntax typed by a person is never an error.
    let _ = search(&lib, "\"(* OR -x AND NEAR( title: ^a");
    assert!(
        search(&lib, "\"^*:").is_empty(),
        "only syntax characters match nothing"
    );
    assert_eq!(search(&lib, "r&b").len(), 5, "genre is searched");
    assert_eq!(search(&lib, "sasha").len(), 5, "album is searched");

    // Default sort: album artist, album, disc, track, path.
    let songs = titles(&all(&lib, TrackQuery::default()));
    let fierce: Vec<_> = songs
        .iter()
        .filter(|t| {
            [
                "If I Were a Boy",
                "Single Ladies",
                "Halo",
                "Sweet Dreams",
                "Video Phone",
            ]
            .contains(&t.as_str())
        })
        .cloned()
        .collect();
    assert_eq!(
        fierce,
        [
            "If I Were a Boy",
            "Single Ladies",
            "Halo",
            "Sweet Dreams",
            "Video Phone"
        ]
    );
    // Tracks without an artist come last.
    assert_eq!(songs.last().map(String::as_str), Some("no tags here"));

    let by_title = titles(&all(
        &lib,
        TrackQuery {
            sort: "title".parse().unwrap(),
            ..TrackQuery::default()
        },
    ));
    let mut sorted = by_title.clone();
    sorted.sort_by_key(|s| s.to_lowercase());
    assert_eq!(by_title, sorted);
    let by_year = all(
        &lib,
        TrackQuery {
            sort: "-year".parse().unwrap(),
            ..TrackQuery::default()
        },
    );
    assert_eq!(by_year[0].year, Some(2008));
    assert_eq!(by_year.last().unwrap().year, None, "no year sorts last");
    assert!("nonsense".parse::<Sort>().is_err());
    assert_eq!("-year".parse::<Sort>().unwrap().key, SortKey::Year);

    // Filters.
    let rock = all(
        &lib,
        TrackQuery {
            genre: Some("rock".into()),
            ..TrackQuery::default()
        },
    );
    assert_eq!(rock.len(), 2);
    let zed = all(
        &lib,
        TrackQuery {
            artist: Some("ZED".into()),
            ..TrackQuery::default()
        },
    );
    assert_eq!(titles(&zed), vec!["Second", "Deeper"]);

    // Paging returns each track exactly once, whatever the sort.
    for sort in ["", "title", "-year", "genre", "-play_count", "codec"] {
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let page = lib
                .tracks(&TrackQuery {
                    sort: sort.parse().unwrap(),
                    limit: 7,
                    offset,
                    include_missing: true,
                    ..TrackQuery::default()
                })
                .unwrap();
            if page.items.is_empty() {
                assert_eq!(page.total as usize, seen.len());
                break;
            }
            seen.extend(page.items.into_iter().map(|t| t.id));
            offset += 7;
        }
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "sort {sort}");
        assert!(seen.len() >= 12);
    }

    // Albums.
    let albums = lib.albums(&AlbumQuery::default()).unwrap();
    // "Hidden" is in the locked folder, readable only as root.
    let names: Vec<_> = albums
        .items
        .iter()
        .map(|a| a.title.as_str())
        .filter(|t| *t != "Hidden")
        .collect();
    assert_eq!(albums.total as usize, albums.items.len());
    assert_eq!(
        names,
        ["I Am... Sasha Fierce", "Covers", "Other Album", "Zed Album"]
    );
    let fierce = &albums.items[0];
    assert_eq!(fierce.album_artist.as_deref(), Some("Beyoncé"));
    assert_eq!((fierce.track_count, fierce.year), (5, Some(2008)));
    assert!((fierce.duration_s - 5.0).abs() < 0.3);
    let (album, tracks) = lib.album(&fierce.id).unwrap().unwrap();
    assert_eq!(album, *fierce);
    assert_eq!(
        titles(&tracks),
        [
            "If I Were a Boy",
            "Single Ladies",
            "Halo",
            "Sweet Dreams",
            "Video Phone"
        ]
    );
    let other = albums
        .items
        .iter()
        .find(|a| a.title == "Other Album")
        .unwrap();
    assert!(
        other.cover_track_id.is_some(),
        "the folder image stands for it"
    );
    let only = lib
        .albums(&AlbumQuery {
            q: Some("fierce".into()),
            ..AlbumQuery::default()
        })
        .unwrap();
    assert_eq!(only.items.len(), 1);
    let in_album = all(
        &lib,
        TrackQuery {
            album_id: Some(fierce.id.clone()),
            ..TrackQuery::default()
        },
    );
    assert_eq!(in_album.len(), 5);

    let artists = lib.artists().unwrap();
    let b = artists.iter().find(|a| a.name == "Beyoncé").unwrap();
    assert_eq!((b.album_count, b.track_count), (1, 5));
    let genres = lib.genres().unwrap();
    assert!(genres.iter().any(|g| g.name == "R&B" && g.track_count == 5));
    assert!(genres
        .iter()
        .any(|g| g.name == "Rock" && g.track_count == 2));
}

#[test]
fn covers_are_resized_and_cached() {
    let f = fixture();
    let lib = Library::open(&f.db).unwrap();
    lib.add_folder(&f.music).unwrap();
    scan(&lib);

    let big = TrackId::for_path(&f.music.join("big cover.flac"));
    let t0 = std::time::Instant::now();
    let c = lib.cover(&big, 200).unwrap().unwrap();
    let first = t0.elapsed();
    assert_eq!(c.mime, "image/jpeg");
    let img = image::load_from_memory(&c.bytes).unwrap();
    assert_eq!((img.width(), img.height()), (200, 200));
    let thumbs = f.db.parent().unwrap().join("thumbnails");
    let files: Vec<_> = std::fs::read_dir(&thumbs).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "one thumbnail written, no temp file left");
    let t1 = std::time::Instant::now();
    let again = lib.cover(&big, 200).unwrap().unwrap();
    assert_eq!(again, c, "a cache hit gives the same bytes");
    assert!(t1.elapsed() < first, "{:?} vs {first:?}", t1.elapsed());
    assert_eq!(std::fs::read_dir(&thumbs).unwrap().count(), 1, "cache hit");

    // Size is clamped.
    let tiny = lib.cover(&big, 1).unwrap().unwrap();
    let img = image::load_from_memory(&tiny.bytes).unwrap();
    assert_eq!(img.width(), 32);

    // The folder image, shared by the album's tracks.
    let wav = TrackId::for_path(&f.music.join("Other Album/b wave.wav"));
    let alac = TrackId::for_path(&f.music.join("Other Album/a lossless.m4a"));
    let c = lib.cover(&wav, 64).unwrap().unwrap();
    assert_eq!(image::load_from_memory(&c.bytes).unwrap().width(), 64);
    let before = std::fs::read_dir(&thumbs).unwrap().count();
    assert_eq!(lib.cover(&alac, 64).unwrap().unwrap(), c);
    assert_eq!(std::fs::read_dir(&thumbs).unwrap().count(), before);

    // A folder image over 32 MB is refused with an error, not read.
    let huge = f.music2.join("huge");
    tone(&huge.join("t.mp3"), MP3, &tags("Huge", "H", "H", "1"), 440);
    std::fs::File::create(huge.join("cover.jpg"))
        .unwrap()
        .set_len(33 * 1024 * 1024)
        .unwrap();
    let ids = lib.add_files(&[huge.join("t.mp3")]).unwrap();
    let e = lib.cover(&ids[0], 64).unwrap_err();
    assert!(matches!(e, Error::Cover(_)), "{e:?}");
    assert!(e.to_string().contains("33 MB"), "{e}");
    // A broken one is an error too.
    std::fs::write(huge.join("cover.jpg"), noise(5000)).unwrap();
    assert!(matches!(lib.cover(&ids[0], 64), Err(Error::Cover(_))));

    // No cover at all.
    let halo = TrackId::for_path(&f.music.join("Sasha Fierce/Beyoncé — Halo.flac"));
    assert_eq!(lib.cover(&halo, 64).unwrap(), None);
    let nobody = TrackId::parse("0000000000000000").unwrap();
    assert!(matches!(
        lib.cover(&nobody, 64),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn rescans_touch_only_what_changed_and_removed_tracks_stay_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("m");
    for i in 0..4 {
        tone(
            &music.join(format!("t{i}.mp3")),
            MP3,
            &tags(
                &format!("Song {i}"),
                "Band",
                "Record",
                &format!("{}", i + 1),
            ),
            300 + i * 50,
        );
    }
    let lib = Library::open(&tmp.path().join("lib.db")).unwrap();
    lib.add_folder(&music).unwrap();
    let r = scan(&lib);
    assert_eq!((r.added, r.updated, r.unchanged, r.missing), (4, 0, 0, 0));
    let r = scan(&lib);
    assert_eq!((r.added, r.updated, r.unchanged, r.missing), (0, 0, 4, 0));

    // Analysis is kept while the file is unchanged.
    let t1 = TrackId::for_path(&music.join("t1.mp3"));
    assert_eq!(lib.tracks_without_analysis(100).unwrap().len(), 4);
    assert_eq!(lib.tracks_without_analysis(2).unwrap().len(), 2);
    lib.set_analysis(&t1, b"opaque").unwrap();
    assert_eq!(lib.analysis(&t1).unwrap().as_deref(), Some(&b"opaque"[..]));
    let left = lib.tracks_without_analysis(100).unwrap();
    assert_eq!(left.len(), 3);
    assert!(!left.contains(&t1), "analysed");
    lib.record_play(&t1).unwrap();
    lib.record_play(&t1).unwrap();

    // Add one, retag one (new file renamed over), delete one.
    tone(
        &music.join("t4.mp3"),
        MP3,
        &tags("Song 4", "Band", "Record", "5"),
        700,
    );
    let tmpfile = tmp.path().join("retag.mp3");
    ffmpeg(&[
        "-i",
        music.join("t1.mp3").to_str().unwrap(),
        "-c",
        "copy",
        "-metadata",
        "title=Song One Retagged",
        tmpfile.to_str().unwrap(),
    ]);
    std::fs::rename(&tmpfile, music.join("t1.mp3")).unwrap();
    std::fs::remove_file(music.join("t2.mp3")).unwrap();
    let r = scan(&lib);
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.missing),
        (1, 1, 2, 1),
        "{r:?}"
    );
    let one = lib.track(&t1).unwrap().unwrap();
    assert_eq!(one.title, "Song One Retagged");
    assert_eq!(one.play_count, 2, "plays survive a retag");
    assert!(one.last_played_at.is_some());
    assert_eq!(lib.analysis(&t1).unwrap(), None, "the file changed");
    let t2 = TrackId::for_path(&music.join("t2.mp3"));
    let left = lib.tracks_without_analysis(100).unwrap();
    assert!(left.contains(&t1), "the file changed: to analyse again");
    assert!(!left.contains(&t2), "missing: nothing to analyse");
    let gone = lib.track(&t2).unwrap().unwrap();
    assert!(gone.missing);
    assert_eq!(lib.tracks(&TrackQuery::default()).unwrap().total, 4);
    assert_eq!(
        lib.tracks(&TrackQuery {
            include_missing: true,
            ..TrackQuery::default()
        })
        .unwrap()
        .total,
        5
    );

    // It comes back.
    tone(
        &music.join("t2.mp3"),
        MP3,
        &tags("Song 2", "Band", "Record", "3"),
        400,
    );
    let r = scan(&lib);
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.missing),
        (0, 1, 4, 0),
        "{r:?}"
    );
    assert!(!lib.track(&t2).unwrap().unwrap().missing);

    // Removed by the user: never re-added by a scan…
    let t3 = TrackId::for_path(&music.join("t3.mp3"));
    lib.remove_track(&t3).unwrap();
    assert_eq!(lib.track(&t3).unwrap(), None);
    let r = scan(&lib);
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.missing),
        (0, 0, 4, 0),
        "{r:?}"
    );
    assert_eq!(lib.track(&t3).unwrap(), None);
    assert!(matches!(lib.remove_track(&t3), Err(Error::NotFound { .. })));
    // …only when handed over explicitly.
    let ids = lib.add_files(&[music.join("t3.mp3")]).unwrap();
    assert_eq!(ids, vec![t3.clone()]);
    assert_eq!(lib.track(&t3).unwrap().unwrap().title, "Song 3");
    let r = scan(&lib);
    assert_eq!(r.unchanged, 5);

    // The whole folder gone (a disk unplugged): its tracks are missing, and come back.
    let away = tmp.path().join("away");
    std::fs::rename(&music, &away).unwrap();
    let r = scan(&lib);
    assert_eq!((r.missing, r.unchanged), (5, 0), "{r:?}");
    assert!(r
        .errors
        .iter()
        .any(|(p, e)| p == &music && e.contains("does not exist")));
    assert!(lib.folders().unwrap()[0].error.is_some());
    assert_eq!(lib.tracks(&TrackQuery::default()).unwrap().total, 0);
    std::fs::rename(&away, &music).unwrap();
    let r = scan(&lib);
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.missing),
        (0, 5, 0, 0),
        "{r:?}"
    );
    assert_eq!(lib.tracks(&TrackQuery::default()).unwrap().total, 5);
    assert_eq!(lib.folders().unwrap()[0].error, None);
}

#[test]
fn add_files_reads_files_now_and_scans_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let loose = tmp.path().join("loose one.flac");
    tone(&loose, FLAC, &tags("Loose", "Solo", "Single", "1"), 440);
    let dir = tmp.path().join("dir");
    for name in ["b.mp3", "a.mp3", "c/d.mp3"] {
        tone(&dir.join(name), MP3, &tags(name, "X", "Y", "1"), 500);
    }
    let lib = Library::open(&tmp.path().join("db/lib.sqlite3")).unwrap();
    let ids = lib.add_files(&[loose.clone(), dir.clone()]).unwrap();
    let expect: Vec<_> = [
        loose.clone(),
        dir.join("a.mp3"),
        dir.join("b.mp3"),
        dir.join("c/d.mp3"),
    ]
    .iter()
    .map(|p| TrackId::for_path(p))
    .collect();
    assert_eq!(ids, expect);
    let t = lib.track(&ids[0]).unwrap().unwrap();
    assert_eq!((t.title.as_str(), t.folder_id), ("Loose", None));
    assert_eq!(lib.folders().unwrap().len(), 1);
    let fid = lib.folders().unwrap()[0].id;
    let in_folder = lib
        .tracks(&TrackQuery {
            folder: Some(fid),
            ..TrackQuery::default()
        })
        .unwrap();
    assert_eq!(in_folder.total, 3);
    // A loose file that vanishes is marked missing by a scan.
    std::fs::remove_file(&loose).unwrap();
    let r = scan(&lib);
    assert_eq!((r.missing, r.unchanged), (1, 3));
    assert!(lib.add_files(&[tmp.path().join("nope.mp3")]).is_err());

    // Removing the folder removes its tracks (and their search entries), not loose files.
    lib.remove_folder(fid).unwrap();
    assert!(lib.folders().unwrap().is_empty());
    let left = lib
        .tracks(&TrackQuery {
            include_missing: true,
            ..TrackQuery::default()
        })
        .unwrap();
    assert_eq!(titles(&left.items), vec!["Loose"]);
    assert!(search(&lib, "a.mp3").is_empty());
    assert!(matches!(
        lib.remove_folder(fid),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_corrupt_database_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("lib.sqlite3");
    std::fs::write(&db, noise(100_000)).unwrap();
    let e = Library::open(&db)
        .err()
        .expect("a random file is not a library");
    assert!(matches!(e, Error::NotADatabase { .. }), "{e:?}");
    assert!(
        e.to_string().contains("not a music library database"),
        "{e}"
    );

    // A fresh path works, and so does opening it again.
    let good = tmp.path().join("new/dir/lib.sqlite3");
    drop(Library::open(&good).unwrap());
    let lib = Library::open(&good).unwrap();
    assert!(lib.folders().unwrap().is_empty());
    assert!(Library::default_db_path()
        .unwrap()
        .ends_with("sonance/library.sqlite3"));
    assert!(matches!(
        lib.add_folder(&tmp.path().join("missing")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(lib.add_folder(&db), Err(Error::NotAFolder(_))));
    // A folder where the file should be.
    let e = Library::open(tmp.path())
        .err()
        .expect("a folder is not a database");
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[test]
fn embedded_covers_are_noticed_without_reading_them() {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("m");
    let jpg = tmp.path().join("c.jpg");
    image_file(&jpg, 120, 90, false);
    let attach = |src: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "-i",
            src.to_str().unwrap(),
            "-i",
            jpg.to_str().unwrap(),
            "-map",
            "0",
            "-map",
            "1",
            "-c:a",
            "copy",
            "-c:v",
            "mjpeg",
            "-disposition:v",
            "attached_pic",
        ];
        args.extend_from_slice(extra);
        args.push(out.to_str().unwrap());
        ffmpeg(&args);
    };
    std::fs::create_dir_all(&music).unwrap();
    let plain_mp3 = tmp.path().join("p.mp3");
    tone(&plain_mp3, MP3, &tags("Pic", "A", "B", "1"), 440);
    attach(&plain_mp3, &music.join("pic.mp3"), &["-id3v2_version", "3"]);
    let plain_m4a = tmp.path().join("p.m4a");
    tone(&plain_m4a, AAC, &tags("Pic", "A", "B", "2"), 440);
    std::fs::create_dir_all(&music).unwrap();
    attach(&plain_m4a, &music.join("pic.m4a"), &[]);
    std::fs::copy(&plain_mp3, music.join("none.mp3")).unwrap();
    std::fs::copy(&plain_m4a, music.join("none.m4a")).unwrap();

    let lib = Library::open(&tmp.path().join("lib.db")).unwrap();
    lib.add_folder(&music).unwrap();
    scan(&lib);
    for (name, has) in [
        ("pic.mp3", true),
        ("pic.m4a", true),
        ("none.mp3", false),
        ("none.m4a", false),
    ] {
        let t = by_path(&lib, &music.join(name));
        assert_eq!(t.has_cover, has, "{name}");
        let cover = lib.cover(&t.id, 64).unwrap();
        assert_eq!(cover.is_some(), has, "{name}");
        if let Some(c) = cover {
            let img = image::load_from_memory(&c.bytes).unwrap();
            assert_eq!((img.width(), img.height()), (64, 48), "{name}");
        }
    }
}

#[test]
fn files_lofty_cannot_read_are_read_by_symphonia() {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("m");
    // Matroska audio and CAF: lofty knows neither container, symphonia knows both.
    tone(
        &music.join("matroska.mka"),
        FLAC,
        &tags("In Matroska", "A", "B", "1"),
        440,
    );
    tone(&music.join("apple.caf"), ALAC, &[], 440);
    let lib = Library::open(&tmp.path().join("lib.db")).unwrap();
    lib.add_folder(&music).unwrap();
    let r = scan(&lib);
    assert_eq!(r.added, 2);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let mka = by_path(&lib, &music.join("matroska.mka"));
    assert!(mka.playable, "{:?}", mka.error);
    assert_eq!(mka.codec.as_deref(), Some("FLAC"));
    assert_eq!(mka.sample_rate, Some(44100));
    let caf = by_path(&lib, &music.join("apple.caf"));
    assert!(caf.playable, "{:?}", caf.error);
    assert_eq!(caf.codec.as_deref(), Some("ALAC"));
    assert_eq!(caf.title, "apple");
    assert!(
        (caf.duration_s.unwrap() - 1.0).abs() < 0.05,
        "{:?}",
        caf.duration_s
    );
}
