//! The database schema as an ordered list of migrations, applied by `user_version`.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only; never edit one
/// that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: folders, tracks, full-text index, removed files, analysis blobs.
    r#"
    CREATE TABLE folders (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL UNIQUE,
        added_at    INTEGER NOT NULL,
        scanned_at  INTEGER,
        error       TEXT
    );

    CREATE TABLE tracks (
        num             INTEGER PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        path            TEXT NOT NULL UNIQUE,
        folder_id       INTEGER REFERENCES folders(id) ON DELETE CASCADE,
        size            INTEGER NOT NULL,
        mtime           INTEGER NOT NULL,
        duration_s      REAL,
        sample_rate     INTEGER,
        channels        INTEGER,
        codec           TEXT,
        title           TEXT NOT NULL,
        artist          TEXT,
        album           TEXT,
        album_artist    TEXT,
        track_no        INTEGER,
        disc_no         INTEGER,
        year            INTEGER,
        genre           TEXT,
        embedded_cover  INTEGER NOT NULL DEFAULT 0,
        folder_cover    INTEGER NOT NULL DEFAULT 0,
        added_at        INTEGER NOT NULL,
        last_played_at  INTEGER,
        play_count      INTEGER NOT NULL DEFAULT 0,
        missing         INTEGER NOT NULL DEFAULT 0,
        playable        INTEGER NOT NULL DEFAULT 1,
        error           TEXT,
        album_id        TEXT
    );
    CREATE INDEX tracks_folder ON tracks(folder_id);
    CREATE INDEX tracks_album ON tracks(album_id, disc_no, track_no);
    CREATE INDEX tracks_artist ON tracks(artist COLLATE NOCASE);
    CREATE INDEX tracks_genre ON tracks(genre COLLATE NOCASE);

    CREATE VIRTUAL TABLE tracks_fts USING fts5(
        title, artist, album, album_artist, genre,
        content='tracks', content_rowid='num',
        tokenize='unicode61 remove_diacritics 2',
        prefix='1 2 3'
    );
    CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks BEGIN
        INSERT INTO tracks_fts(rowid, title, artist, album, album_artist, genre)
        VALUES (new.num, new.title, new.artist, new.album, new.album_artist, new.genre);
    END;
    CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, album, album_artist, genre)
        VALUES ('delete', old.num, old.title, old.artist, old.album, old.album_artist, old.genre);
    END;
    CREATE TRIGGER tracks_fts_update AFTER UPDATE OF title, artist, album, album_artist, genre
    ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, album, album_artist, genre)
        VALUES ('delete', old.num, old.title, old.artist, old.album, old.album_artist, old.genre);
        INSERT INTO tracks_fts(rowid, title, artist, album, album_artist, genre)
        VALUES (new.num, new.title, new.artist, new.album, new.album_artist, new.genre);
    END;

    CREATE TABLE removed (
        path        TEXT PRIMARY KEY,
        removed_at  INTEGER NOT NULL
    );

    CREATE TABLE analysis (
        track_id    TEXT PRIMARY KEY,
        size        INTEGER NOT NULL,
        mtime       INTEGER NOT NULL,
        data        BLOB NOT NULL
    );
    "#,
    // 2: the full-text index also holds the missing flag (a token "1" in a column of its
    // own), so a search leaves missing tracks out, and counts its matches, in the index alone
    // instead of looking up each match's row. The update trigger fires only when an indexed
    // value changes (a rescan touches every unchanged file's row). Prefix indexes up to 6
    // letters (were 3): a longer typed prefix without one is gathered from every term that
    // starts with it before anything can be skipped (3.9 ms instead of 1.4 ms for "velvet
    // neon 12" on 100 000 tracks; the index grows by about 40 %). And an index for the
    // Songs view's order.
    r#"
    DROP TRIGGER tracks_fts_insert;
    DROP TRIGGER tracks_fts_delete;
    DROP TRIGGER tracks_fts_update;
    DROP TABLE tracks_fts;
    CREATE VIRTUAL TABLE tracks_fts USING fts5(
        title, artist, album, album_artist, genre, missing,
        content='tracks', content_rowid='num',
        tokenize='unicode61 remove_diacritics 2',
        prefix='1 2 3 4 5 6'
    );
    CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks BEGIN
        INSERT INTO tracks_fts(rowid, title, artist, album, album_artist, genre, missing)
        VALUES (new.num, new.title, new.artist, new.album, new.album_artist, new.genre,
                new.missing);
    END;
    CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, album, album_artist, genre,
                               missing)
        VALUES ('delete', old.num, old.title, old.artist, old.album, old.album_artist,
                old.genre, old.missing);
    END;
    CREATE TRIGGER tracks_fts_update AFTER UPDATE OF title, artist, album, album_artist, genre,
        missing ON tracks
    WHEN old.title IS NOT new.title OR old.artist IS NOT new.artist
        OR old.album IS NOT new.album OR old.album_artist IS NOT new.album_artist
        OR old.genre IS NOT new.genre OR old.missing IS NOT new.missing
    BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, album, album_artist, genre,
                               missing)
        VALUES ('delete', old.num, old.title, old.artist, old.album, old.album_artist,
                old.genre, old.missing);
        INSERT INTO tracks_fts(rowid, title, artist, album, album_artist, genre, missing)
        VALUES (new.num, new.title, new.artist, new.album, new.album_artist, new.genre,
                new.missing);
    END;
    INSERT INTO tracks_fts(tracks_fts) VALUES ('rebuild');

    -- The Songs view's order (query::order_by, SortKey::Default ascending), so that a page
    -- of it walks this index instead of sorting every track (235 ms for a page of 100 000
    -- tracks); the missing flag last, so leaving missing tracks out reads no rows.
    CREATE INDEX tracks_default_order ON tracks(
        COALESCE(album_artist, artist) IS NULL, COALESCE(album_artist, artist) COLLATE NOCASE,
        album IS NULL, album COLLATE NOCASE, disc_no IS NULL, disc_no,
        track_no IS NULL, track_no, path, id, missing
    );
    "#,
];

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Settings every connection needs.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        // An 8 MB page cache per connection (4 connections) and reads through mmap: a search
        // touches much of the full-text index, which must not be re-read from the OS each time.
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8000; PRAGMA mmap_size = 268435456;",
    )
}

/// Bring the database at `path` (open on `conn`) up to [`VERSION`].
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let not_db = |e: rusqlite::Error| Error::NotADatabase {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    // The first read of the file is where a corrupt or foreign file shows.
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(not_db)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .map_err(not_db)?;
    if found > VERSION {
        return Err(Error::TooNew {
            path: path.to_path_buf(),
            found,
            known: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        log::info!(
            "library {}: schema migrated to version {}",
            path.display(),
            i + 1
        );
    }
    Ok(())
}
