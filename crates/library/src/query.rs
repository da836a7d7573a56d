//! Track and album queries: the sort whitelist, the search-text sanitiser, SQL building.

use std::path::PathBuf;
use std::str::FromStr;

use rusqlite::types::Value;
use rusqlite::Row;

use crate::id::{AlbumId, TrackId};
use crate::model::{FolderId, TrackRecord};

/// Largest page a query returns.
pub const MAX_LIMIT: u32 = 5_000;

/// A column a list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SortKey {
    /// Album artist, album, disc, track, path — a player's "Songs" view. With a search
    /// text: best match first.
    #[default]
    Default,
    Title,
    Artist,
    Album,
    AlbumArtist,
    Year,
    Genre,
    Duration,
    TrackNo,
    DiscNo,
    Path,
    Codec,
    SampleRate,
    AddedAt,
    LastPlayedAt,
    PlayCount,
}

impl SortKey {
    const NAMES: &'static [(&'static str, SortKey)] = &[
        ("default", SortKey::Default),
        ("title", SortKey::Title),
        ("artist", SortKey::Artist),
        ("album", SortKey::Album),
        ("album_artist", SortKey::AlbumArtist),
        ("year", SortKey::Year),
        ("genre", SortKey::Genre),
        ("duration", SortKey::Duration),
        ("duration_s", SortKey::Duration),
        ("track", SortKey::TrackNo),
        ("track_no", SortKey::TrackNo),
        ("disc", SortKey::DiscNo),
        ("disc_no", SortKey::DiscNo),
        ("path", SortKey::Path),
        ("codec", SortKey::Codec),
        ("sample_rate", SortKey::SampleRate),
        ("added", SortKey::AddedAt),
        ("added_at", SortKey::AddedAt),
        ("played", SortKey::LastPlayedAt),
        ("last_played_at", SortKey::LastPlayedAt),
        ("play_count", SortKey::PlayCount),
    ];

    /// The SQL expression (from the whitelist, never from the user).
    fn column(self) -> &'static str {
        match self {
            SortKey::Default => "",
            SortKey::Title => "t.title COLLATE NOCASE",
            SortKey::Artist => "t.artist COLLATE NOCASE",
            SortKey::Album => "t.album COLLATE NOCASE",
            SortKey::AlbumArtist => "COALESCE(t.album_artist, t.artist) COLLATE NOCASE",
            SortKey::Year => "t.year",
            SortKey::Genre => "t.genre COLLATE NOCASE",
            SortKey::Duration => "t.duration_s",
            SortKey::TrackNo => "t.track_no",
            SortKey::DiscNo => "t.disc_no",
            SortKey::Path => "t.path",
            SortKey::Codec => "t.codec COLLATE NOCASE",
            SortKey::SampleRate => "t.sample_rate",
            SortKey::AddedAt => "t.added_at",
            SortKey::LastPlayedAt => "t.last_played_at",
            SortKey::PlayCount => "t.play_count",
        }
    }
}

/// A sort order: a whitelisted column, ascending or descending. Parses from `"title"`,
/// `"-year"` (descending), `"+artist"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub key: SortKey,
    pub desc: bool,
}

/// A sort name that is not in the whitelist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot sort by \"{0}\"; use one of: title, artist, album, album_artist, year, genre, duration, track, disc, path, codec, sample_rate, added, played, play_count (prefix - for descending)")]
pub struct UnknownSort(pub String);

impl FromStr for Sort {
    type Err = UnknownSort;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (desc, name) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let name = name.to_ascii_lowercase();
        let key = if name.is_empty() {
            Some(SortKey::Default)
        } else {
            SortKey::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, k)| *k)
        };
        key.map(|key| Sort { key, desc })
            .ok_or_else(|| UnknownSort(s.to_string()))
    }
}

/// What [`Library::tracks`](crate::Library::tracks) lists.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackQuery {
    /// Search text: every word must match the start of a word in the title, artist, album,
    /// album artist or genre (diacritics and case ignored).
    pub q: Option<String>,
    pub sort: Sort,
    /// At most [`MAX_LIMIT`].
    pub limit: u32,
    pub offset: u64,
    pub album_id: Option<AlbumId>,
    /// Track artist or album artist, ignoring case.
    pub artist: Option<String>,
    /// Ignoring case.
    pub genre: Option<String>,
    pub folder: Option<FolderId>,
    /// List tracks whose file is missing too.
    pub include_missing: bool,
}

impl Default for TrackQuery {
    fn default() -> Self {
        TrackQuery {
            q: None,
            sort: Sort::default(),
            limit: 100,
            offset: 0,
            album_id: None,
            artist: None,
            genre: None,
            folder: None,
            include_missing: false,
        }
    }
}

/// What [`Library::albums`](crate::Library::albums) lists (sorted by album artist, title).
#[derive(Debug, Clone, PartialEq)]
pub struct AlbumQuery {
    /// Words matched against album title and album artist, as in [`TrackQuery::q`].
    pub q: Option<String>,
    /// Album artist (or artist), ignoring case.
    pub artist: Option<String>,
    pub genre: Option<String>,
    pub limit: u32,
    pub offset: u64,
}

impl Default for AlbumQuery {
    fn default() -> Self {
        AlbumQuery {
            q: None,
            artist: None,
            genre: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// Turn what a person typed into an FTS5 query: words (FTS syntax removed), each quoted and
/// matched as a prefix, all required. `None` when nothing searchable is left.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| {
                    !matches!(
                        c,
                        '"' | '*' | '^' | ':' | '(' | ')' | '{' | '}' | '[' | ']' | '+' | '\''
                    )
                })
                .collect::<String>()
        })
        .map(|w| w.trim_start_matches('-').to_string())
        // A word of punctuation only would tokenize to nothing.
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The columns of a track row, in the order [`track_from_row`] reads them.
pub(crate) const TRACK_COLUMNS: &str = "t.id, t.path, t.folder_id, t.size, t.mtime, t.duration_s, \
    t.sample_rate, t.channels, t.codec, t.title, t.artist, t.album, t.album_artist, t.track_no, \
    t.disc_no, t.year, t.genre, t.embedded_cover, t.folder_cover, t.added_at, t.last_played_at, \
    t.play_count, t.missing, t.playable, t.error, t.album_id";

pub(crate) fn track_from_row(r: &Row<'_>) -> rusqlite::Result<TrackRecord> {
    let id: String = r.get(0)?;
    let path: String = r.get(1)?;
    let album_id: Option<String> = r.get(25)?;
    Ok(TrackRecord {
        id: TrackId::parse(&id).unwrap_or_else(|| TrackId::for_canonical(path.as_ref())),
        path: PathBuf::from(path),
        folder_id: r.get(2)?,
        size: r.get::<_, i64>(3)?.max(0) as u64,
        mtime: r.get(4)?,
        duration_s: r.get(5)?,
        sample_rate: r.get(6)?,
        channels: r.get(7)?,
        codec: r.get(8)?,
        title: r.get(9)?,
        artist: r.get(10)?,
        album: r.get(11)?,
        album_artist: r.get(12)?,
        track_no: r.get(13)?,
        disc_no: r.get(14)?,
        year: r.get(15)?,
        genre: r.get(16)?,
        has_cover: r.get::<_, bool>(17)? || r.get::<_, bool>(18)?,
        added_at: r.get(19)?,
        last_played_at: r.get(20)?,
        play_count: r.get(21)?,
        missing: r.get(22)?,
        playable: r.get(23)?,
        error: r.get(24)?,
        album_id: album_id.as_deref().and_then(AlbumId::parse),
    })
}

/// A WHERE clause with its parameters.
pub(crate) struct Filter {
    pub from: String,
    pub clauses: Vec<String>,
    pub params: Vec<Value>,
    pub ranked: bool,
    /// The FTS5 query, when there is search text.
    pub fts: Option<String>,
    /// Whether anything but the search text and the missing flag filters the rows.
    pub narrowed: bool,
}

impl Filter {
    pub(crate) fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

pub(crate) fn track_filter(q: &TrackQuery) -> Option<Filter> {
    let mut f = Filter {
        from: "tracks t".to_string(),
        clauses: Vec::new(),
        params: Vec::new(),
        ranked: false,
        fts: None,
        narrowed: q.album_id.is_some()
            || q.artist.is_some()
            || q.genre.is_some()
            || q.folder.is_some(),
    };
    if let Some(text) = q.q.as_deref().filter(|s| !s.trim().is_empty()) {
        // Text with nothing searchable in it matches nothing.
        let m = fts_query(text)?;
        f.from = "tracks t JOIN tracks_fts ON tracks_fts.rowid = t.num".to_string();
        f.clauses.push("tracks_fts MATCH ?".to_string());
        f.params.push(Value::Text(searched(&m)));
        f.fts = Some(m);
        f.ranked = true;
    }
    if !q.include_missing {
        f.clauses.push("t.missing = 0".to_string());
    }
    if let Some(a) = &q.album_id {
        f.clauses.push("t.album_id = ?".to_string());
        f.params.push(Value::Text(a.as_str().to_string()));
    }
    if let Some(a) = &q.artist {
        f.clauses.push(
            "(t.artist = ? COLLATE NOCASE OR COALESCE(t.album_artist, t.artist) = ? COLLATE NOCASE)"
                .to_string(),
        );
        f.params.push(Value::Text(a.clone()));
        f.params.push(Value::Text(a.clone()));
    }
    if let Some(g) = &q.genre {
        f.clauses.push("t.genre = ? COLLATE NOCASE".to_string());
        f.params.push(Value::Text(g.clone()));
    }
    if let Some(folder) = q.folder {
        f.clauses.push("t.folder_id = ?".to_string());
        f.params.push(Value::Integer(folder));
    }
    Some(f)
}

/// An FTS5 query from [`fts_query`] kept off the index's missing-flag column, whose only
/// tokens are "0" and "1": only a word whose first token is one of those could match there,
/// so only such a word gets a column filter (a filter makes the index read positions).
pub(crate) fn searched(m: &str) -> String {
    m.split(' ')
        .map(|phrase| {
            let first: String = phrase
                .trim_start_matches('"')
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            if first == "0" || first == "1" {
                format!("{{title artist album album_artist genre}} : {phrase}")
            } else {
                phrase.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Column weights of the ranking (title, artist, album, album artist, genre): a word in the
/// title counts most, then artist, album and album artist (often the artist again), genre
/// least; the last column is the missing flag.
pub(crate) const BM25: &str = "bm25(tracks_fts, 10.0, 3.0, 2.0, 2.0, 1.0, 0.0)";

/// The ORDER BY clause: the column (nulls last), then the id so paging is stable. The
/// default order, ascending, is the index `tracks_default_order` (schema migration 2): keep
/// the two the same (a test checks that a page of it sorts nothing).
pub(crate) fn order_by(sort: Sort, ranked: bool) -> String {
    let dir = if sort.desc { "DESC" } else { "ASC" };
    let tail = format!("t.path {dir}, t.id {dir}");
    match sort.key {
        SortKey::Default if ranked => format!("{BM25} {dir}, {tail}"),
        SortKey::Default => format!(
            "COALESCE(t.album_artist, t.artist) IS NULL, COALESCE(t.album_artist, t.artist) COLLATE NOCASE {dir}, \
             t.album IS NULL, t.album COLLATE NOCASE {dir}, t.disc_no IS NULL, t.disc_no {dir}, \
             t.track_no IS NULL, t.track_no {dir}, {tail}"
        ),
        key => {
            let col = key.column();
            let bare = col.trim_end_matches(" COLLATE NOCASE");
            format!("{bare} IS NULL, {col} {dir}, {tail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_parses_names_and_direction_and_refuses_the_rest() {
        assert_eq!(
            "-year".parse::<Sort>(),
            Ok(Sort {
                key: SortKey::Year,
                desc: true
            })
        );
        assert_eq!("Title".parse::<Sort>().map(|s| s.key), Ok(SortKey::Title));
        assert_eq!("".parse::<Sort>().map(|s| s.key), Ok(SortKey::Default));
        assert!("title; DROP TABLE tracks".parse::<Sort>().is_err());
        assert!("rowid".parse::<Sort>().is_err());
    }

    #[test]
    fn search_text_is_sanitised_into_prefix_words() {
        assert_eq!(fts_query("halo bey").as_deref(), Some("\"halo\"* \"bey\"*"));
        assert_eq!(
            fts_query("a\"b* OR -c (d)").as_deref(),
            Some("\"ab\"* \"OR\"* \"c\"* \"d\"*")
        );
        assert_eq!(fts_query(" \"* ^ - () "), None);
        assert_eq!(fts_query("AC/DC").as_deref(), Some("\"AC/DC\"*"));
    }

    #[test]
    fn only_words_that_could_match_the_missing_flag_are_column_filtered() {
        let m = fts_query("1 10 0.5 love").unwrap();
        assert_eq!(
            searched(&m),
            "{title artist album album_artist genre} : \"1\"* \"10\"* \
             {title artist album album_artist genre} : \"0.5\"* \"love\"*"
        );
    }
}
