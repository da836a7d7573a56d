//! Search order and counts: best match first, broad searches title matches first, missing
//! tracks left out or listed, paging, and a library written by schema version 1.
//!
//! The rows are written straight into the database, as a scan writes them (scan.rs covers the
//! scan itself): a broad search needs thousands of tracks.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::Path;

use sonance_library::{Library, Sort, SortKey, TrackQuery, RANK_ALL_MAX};

/// A track row: title, artist, album, genre, missing.
type Row<'a> = (&'a str, &'a str, &'a str, &'a str, bool);

fn insert(db: &Path, rows: &[Row<'_>]) {
    let mut c = rusqlite::Connection::open(db).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut st = tx
            .prepare(
                "INSERT INTO tracks (id, path, size, mtime, title, artist, album, album_artist,
                    genre, added_at, album_id, missing)
                 VALUES (?1, ?2, 1, 1, ?3, ?4, ?5, ?4, ?6, 0, ?7, ?8)",
            )
            .unwrap();
        let base: i64 = tx
            .query_row("SELECT COUNT(*) FROM tracks", [], |r| r.get(0))
            .unwrap();
        for (i, (title, artist, album, genre, missing)) in rows.iter().enumerate() {
            let n = base + i as i64;
            st.execute(rusqlite::params![
                format!("{n:016x}"),
                format!("/music/{n:06}.mp3"),
                title,
                artist,
                album,
                genre,
                format!("{:016x}", n / 10),
                missing,
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn query(q: &str) -> TrackQuery {
    TrackQuery {
        q: Some(q.to_string()),
        limit: 1000,
        ..TrackQuery::default()
    }
}

fn titles(lib: &Library, q: TrackQuery) -> Vec<String> {
    lib.tracks(&q)
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.title)
        .collect()
}

#[test]
fn a_title_match_ranks_above_an_artist_album_or_genre_match() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("lib.sqlite3");
    drop(Library::open(&db).unwrap());
    // The genre match is the shortest field (what plain bm25 puts first).
    insert(
        &db,
        &[
            ("Blue Hour", "Someone", "Records", "Ocean", false),
            ("Waves", "Someone", "Ocean Songs", "Pop", false),
            ("Drift", "Ocean Band", "Records", "Pop", false),
            (
                "Ocean Drive of the Night",
                "Someone",
                "Records",
                "Pop",
                false,
            ),
            ("Unrelated", "Someone", "Records", "Pop", false),
        ],
    );
    let lib = Library::open(&db).unwrap();
    assert_eq!(
        titles(&lib, query("oce")),
        vec!["Ocean Drive of the Night", "Drift", "Waves", "Blue Hour"]
    );
    let page = lib.tracks(&query("ocean")).unwrap();
    assert_eq!(page.total, 4);
}

#[test]
fn a_broad_search_lists_title_matches_first_counts_every_match_and_pages_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("lib.sqlite3");
    drop(Library::open(&db).unwrap());
    let n = RANK_ALL_MAX as usize * 2;
    // Thirds: "river" in the title, in the artist, in neither; every 7th track is missing.
    let rows: Vec<(String, String, bool)> = (0..n)
        .map(|i| {
            let (title, artist) = match i % 3 {
                0 => (format!("River {i}"), "Someone".to_string()),
                1 => (format!("Song {i}"), "Riverside".to_string()),
                _ => (format!("Other {i}"), "Nobody".to_string()),
            };
            (title, artist, i % 7 == 3)
        })
        .collect();
    let borrowed: Vec<Row<'_>> = rows
        .iter()
        .map(|(t, a, m)| (t.as_str(), a.as_str(), "Album", "Pop", *m))
        .collect();
    insert(&db, &borrowed);
    let lib = Library::open(&db).unwrap();

    let expect = |include_missing: bool| -> (Vec<String>, Vec<String>) {
        let keep = |i: &usize| include_missing || i % 7 != 3;
        let title = (0..n).filter(|i| i % 3 == 0).filter(keep);
        let artist = (0..n).filter(|i| i % 3 == 1).filter(keep);
        (
            title.map(|i| format!("River {i}")).collect(),
            artist.map(|i| format!("Song {i}")).collect(),
        )
    };
    for include_missing in [false, true] {
        let (by_title, by_artist) = expect(include_missing);
        let want = by_title.len() + by_artist.len();
        assert!(want as u64 > RANK_ALL_MAX, "the search must be broad");
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let page = lib
                .tracks(&TrackQuery {
                    q: Some("riv".into()),
                    limit: 333,
                    offset,
                    include_missing,
                    ..TrackQuery::default()
                })
                .unwrap();
            assert_eq!(page.total, want as u64, "include_missing {include_missing}");
            if page.items.is_empty() {
                break;
            }
            offset += page.items.len() as u64;
            seen.extend(page.items.into_iter().map(|t| t.title));
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "each track once");
        // Title matches first, then the rest, each in the order added.
        assert_eq!(seen[..by_title.len()], by_title[..]);
        assert_eq!(seen[by_title.len()..], by_artist[..]);
    }
    // Descending: the groups the other way round.
    let desc = lib
        .tracks(&TrackQuery {
            q: Some("riv".into()),
            sort: Sort {
                key: SortKey::Default,
                desc: true,
            },
            limit: 1,
            ..TrackQuery::default()
        })
        .unwrap();
    assert_eq!(desc.items[0].title, "Song 1");
    // Narrowed to a few, the search is ranked again: title matches above artist matches
    // (tracks 300 and 3000–3009, some missing).
    let narrow = titles(&lib, query("river 300"));
    assert_eq!(narrow.len(), 7, "{narrow:?}");
    assert!(
        narrow[..4].iter().all(|t| t.starts_with("River")),
        "{narrow:?}"
    );
    assert!(
        narrow[4..].iter().all(|t| t.starts_with("Song")),
        "{narrow:?}"
    );
}

#[test]
fn the_digits_of_the_missing_flag_are_not_searched_and_missing_tracks_count_right() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("lib.sqlite3");
    drop(Library::open(&db).unwrap());
    insert(
        &db,
        &[
            ("Gone", "Someone", "Records", "Pop", true),
            ("Here", "Someone", "Records", "Pop", false),
            ("1999", "Someone", "Records", "Pop", false),
            ("Track 1", "Someone", "Records", "Pop", false),
            ("0", "Someone", "Records", "Pop", true),
        ],
    );
    let lib = Library::open(&db).unwrap();
    let with_missing = |q: &str| TrackQuery {
        include_missing: true,
        ..query(q)
    };
    // "1" and "0" are the flag's tokens: only the tracks with those words in their tags match.
    let mut one = titles(&lib, with_missing("1"));
    one.sort();
    assert_eq!(one, vec!["1999", "Track 1"]);
    assert_eq!(titles(&lib, with_missing("0")), vec!["0"]);
    assert!(titles(&lib, query("0")).is_empty(), "missing left out");
    assert_eq!(lib.tracks(&query("someone")).unwrap().total, 3);
    assert_eq!(lib.tracks(&with_missing("someone")).unwrap().total, 5);
    // A track that turns missing (and back) leaves (and rejoins) the search.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("UPDATE tracks SET missing = 1 WHERE title = 'Here'", [])
        .unwrap();
    assert!(titles(&lib, query("here")).is_empty());
    assert_eq!(titles(&lib, with_missing("here")), vec!["Here"]);
    c.execute("UPDATE tracks SET missing = 0 WHERE title = 'Here'", [])
        .unwrap();
    assert_eq!(titles(&lib, query("here")), vec!["Here"]);
}

#[test]
fn a_library_written_by_schema_version_1_is_migrated_and_searchable() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("lib.sqlite3");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("fixtures/schema_v1.sql"))
            .unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
    }
    insert(
        &db,
        &[
            ("Halo", "Beyoncé", "I Am", "Pop", false),
            ("Old Song", "Beyoncé", "I Am", "Pop", true),
        ],
    );
    let lib = Library::open(&db).unwrap();
    assert_eq!(titles(&lib, query("beyonce")), vec!["Halo"]);
    let all = TrackQuery {
        include_missing: true,
        ..query("bey")
    };
    assert_eq!(lib.tracks(&all).unwrap().total, 2);
}
