//! Reading one file's tags and audio properties: lofty first (cover art off), symphonia's
//! probe when lofty cannot, and a readable reason when neither can.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::{AudioFile, FileType, TaggedFile, TaggedFileExt};
use lofty::probe::Probe;
use lofty::tag::{Accessor, ItemKey, Tag};

/// What one file says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FileTags {
    pub duration_s: Option<f64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
    pub codec: Option<String>,
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub album_artist: Option<String>,
    pub track_no: Option<u32>,
    pub disc_no: Option<u32>,
    pub year: Option<i32>,
    pub genre: Option<String>,
    pub embedded_cover: bool,
    /// Why the file cannot be played; `None` when it can.
    pub error: Option<String>,
}

/// Read `path`. Never fails: a file nothing can read comes back with `error` set (also when a
/// tag reader panics on a hostile file: one bad file must not end a scan).
pub(crate) fn read(path: &Path) -> FileTags {
    std::panic::catch_unwind(|| read_unguarded(path)).unwrap_or_else(|_| {
        log::warn!("{}: the tag reader crashed on this file", path.display());
        FileTags {
            error: Some("this file is damaged: reading its tags failed".to_string()),
            ..FileTags::default()
        }
    })
}

fn read_unguarded(path: &Path) -> FileTags {
    match read_lofty(path) {
        Ok(t) => t,
        Err(lofty_reason) => match read_symphonia(path) {
            Ok(t) => t,
            Err(sym_reason) => {
                log::debug!(
                    "{}: lofty: {lofty_reason}; symphonia: {sym_reason}",
                    path.display()
                );
                FileTags {
                    error: Some(unreadable_reason(path, &sym_reason)),
                    ..FileTags::default()
                }
            }
        },
    }
}

fn unreadable_reason(path: &Path, detail: &str) -> String {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == 0 => "the file is empty".to_string(),
        Ok(_) if detail.contains("no suitable format reader") => {
            "this is not an audio file Sonance can read, or it is damaged (no audio format was recognised)"
                .to_string()
        }
        Ok(_) => format!("this is not an audio file Sonance can read, or it is damaged ({detail})"),
        Err(e) => format!("the file cannot be opened ({e})"),
    }
}

fn clean(s: Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    s.map(|s| s.trim().trim_matches('\0').to_string())
        .filter(|s| !s.is_empty())
}

fn read_lofty(path: &Path) -> Result<FileTags, String> {
    let options = ParseOptions::new()
        .read_cover_art(false)
        .parsing_mode(ParsingMode::Relaxed);
    let probe = Probe::open(path)
        .map_err(|e| e.to_string())?
        .options(options)
        .guess_file_type()
        .map_err(|e| e.to_string())?;
    let file_type = probe.file_type();
    let (tagged, codec): (TaggedFile, String) = if file_type == Some(FileType::Mp4) {
        let mut reader = probe.into_inner();
        let mp4 =
            lofty::mp4::Mp4File::read_from(&mut reader, options).map_err(|e| e.to_string())?;
        let codec = match mp4.properties().codec() {
            Some(lofty::mp4::Mp4Codec::AAC) => "AAC",
            Some(lofty::mp4::Mp4Codec::ALAC) => "ALAC",
            Some(lofty::mp4::Mp4Codec::MP3) => "MP3",
            Some(lofty::mp4::Mp4Codec::FLAC) => "FLAC",
            _ => "MP4",
        };
        (mp4.into(), codec.to_string())
    } else {
        let tagged = probe.read().map_err(|e| e.to_string())?;
        let codec = codec_name(tagged.file_type());
        (tagged, codec)
    };
    let props = tagged.properties();
    let duration = props.duration().as_secs_f64();
    // A "file" whose frames were found in noise has no rate or no length: not audio.
    if props.sample_rate().is_none_or(|r| r == 0) || duration <= 0.0 {
        return Err("no audio stream found".to_string());
    }
    let mut t = FileTags {
        duration_s: Some(duration),
        sample_rate: props.sample_rate(),
        channels: props.channels().map(u32::from),
        codec: Some(codec),
        embedded_cover: sniff_embedded_cover(path, tagged.file_type()),
        ..FileTags::default()
    };
    if let Some(tag) = tagged.primary_tag().or_else(|| tagged.first_tag()) {
        fill_from_tag(&mut t, tag);
    }
    // Another tag (say ID3v1 beside ID3v2) may hold what the first one lacks.
    for tag in tagged.tags() {
        if t.title.is_none() || t.artist.is_none() || t.album.is_none() {
            fill_from_tag(&mut t, tag);
        }
    }
    Ok(t)
}

fn fill_from_tag(t: &mut FileTags, tag: &Tag) {
    t.title = t.title.take().or_else(|| clean(tag.title()));
    t.artist = t.artist.take().or_else(|| clean(tag.artist()));
    t.album = t.album.take().or_else(|| clean(tag.album()));
    t.genre = t.genre.take().or_else(|| clean(tag.genre()));
    t.album_artist = t
        .album_artist
        .take()
        .or_else(|| clean(tag.get_string(ItemKey::AlbumArtist).map(Into::into)));
    t.track_no = t.track_no.or_else(|| tag.track());
    t.disc_no = t.disc_no.or_else(|| tag.disk());
    t.year = t.year.or_else(|| tag.date().map(|d| i32::from(d.year)));
}

fn codec_name(ft: FileType) -> String {
    match ft {
        FileType::Mpeg => "MP3",
        FileType::Flac => "FLAC",
        FileType::Opus => "Opus",
        FileType::Vorbis => "Vorbis",
        FileType::Speex => "Speex",
        FileType::Wav => "WAV",
        FileType::Aiff => "AIFF",
        FileType::Aac => "AAC",
        FileType::Ape => "APE",
        FileType::WavPack => "WavPack",
        FileType::Mpc => "Musepack",
        FileType::Mp4 => "MP4",
        _ => "audio",
    }
    .to_string()
}

fn read_symphonia(path: &Path) -> Result<FileTags, String> {
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::{FormatOptions, TrackType};
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::{MetadataOptions, StandardTag};

    let file = File::open(path).map_err(|e| e.to_string())?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| e.to_string())?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or("it has no audio track")?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or("its audio format is unknown")?
        .clone();
    let rate = params.sample_rate.ok_or("its sample rate is unknown")?;
    let frames = track.num_frames;
    // Making the decoder proves the codec is one we can play.
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &Default::default())
        .map_err(|e| e.to_string())?;
    let mut t = FileTags {
        duration_s: frames.map(|n| n as f64 / f64::from(rate.max(1))),
        sample_rate: Some(rate),
        channels: params.channels.as_ref().map(|c| c.count() as u32),
        codec: Some(decoder.codec_info().short_name.to_uppercase()),
        ..FileTags::default()
    };
    // Every revision, newest first: a container may keep its tags in several (Matroska
    // writes the file's tags and each track's in separate ones).
    let mut metadata = format.metadata();
    let mut revisions = Vec::new();
    while let Some(rev) = metadata.pop() {
        revisions.push(rev);
    }
    revisions.extend(metadata.current().cloned());
    for rev in revisions.iter().rev() {
        let tags = rev
            .media
            .tags
            .iter()
            .chain(rev.per_track.iter().flat_map(|t| t.metadata.tags.iter()));
        for tag in tags {
            let s = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
            match &tag.std {
                Some(StandardTag::TrackTitle(v)) if t.title.is_none() => t.title = s(v),
                Some(StandardTag::Artist(v)) if t.artist.is_none() => t.artist = s(v),
                Some(StandardTag::Album(v)) if t.album.is_none() => t.album = s(v),
                Some(StandardTag::AlbumArtist(v)) if t.album_artist.is_none() => {
                    t.album_artist = s(v)
                }
                Some(StandardTag::Genre(v)) if t.genre.is_none() => t.genre = s(v),
                Some(StandardTag::TrackNumber(n)) if t.track_no.is_none() => {
                    t.track_no = u32::try_from(*n).ok()
                }
                Some(StandardTag::DiscNumber(n)) if t.disc_no.is_none() => {
                    t.disc_no = u32::try_from(*n).ok()
                }
                Some(StandardTag::RecordingYear(y)) if t.year.is_none() => {
                    t.year = Some(i32::from(*y))
                }
                Some(_) => {}
                None => raw_tag(&mut t, &tag.raw.key, &tag.raw.value.to_string()),
            }
        }
    }
    Ok(t)
}

/// A tag symphonia did not map to a standard one, by its key (the last part of a path).
fn raw_tag(t: &mut FileTags, key: &str, value: &str) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    let key = key.rsplit('/').next().unwrap_or(key).to_ascii_uppercase();
    let number = || value.split('/').next().and_then(|n| n.trim().parse().ok());
    match key.as_str() {
        "TITLE" if t.title.is_none() => t.title = Some(value.to_string()),
        "ARTIST" if t.artist.is_none() => t.artist = Some(value.to_string()),
        "ALBUM" if t.album.is_none() => t.album = Some(value.to_string()),
        "ALBUM_ARTIST" | "ALBUMARTIST" if t.album_artist.is_none() => {
            t.album_artist = Some(value.to_string())
        }
        "GENRE" if t.genre.is_none() => t.genre = Some(value.to_string()),
        "TRACK" | "TRACKNUMBER" | "PART_NUMBER" if t.track_no.is_none() => t.track_no = number(),
        "DISC" | "DISCNUMBER" if t.disc_no.is_none() => t.disc_no = number(),
        "DATE" | "YEAR" | "DATE_RELEASED" | "DATE_RECORDED" if t.year.is_none() => {
            t.year = value.get(..4).and_then(|y| y.parse().ok())
        }
        _ => {}
    }
}

/// Whether the file holds an embedded picture, found by walking the tag's structure without
/// reading the picture itself (the scan reads tags with cover art off).
pub(crate) fn sniff_embedded_cover(path: &Path, ft: FileType) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut r = BufReader::with_capacity(16 * 1024, file);
    let found = match ft {
        FileType::Flac => sniff_flac(&mut r),
        FileType::Mpeg | FileType::Aac => sniff_id3v2(&mut r),
        FileType::Mp4 => sniff_mp4(&mut r),
        FileType::Vorbis | FileType::Opus | FileType::Speex => sniff_ogg(&mut r),
        _ => Ok(false),
    };
    found.unwrap_or(false)
}

fn sniff_flac(r: &mut BufReader<File>) -> std::io::Result<bool> {
    let mut head = [0u8; 10];
    r.read_exact(&mut head[..4])?;
    if &head[..3] == b"ID3" {
        // An ID3v2 tag before the stream: skip it.
        r.read_exact(&mut head[4..10])?;
        let size = syncsafe(&head[6..10]);
        r.seek_relative(i64::from(size))?;
        r.read_exact(&mut head[..4])?;
    }
    if &head[..4] != b"fLaC" {
        return Ok(false);
    }
    for _ in 0..256 {
        let mut h = [0u8; 4];
        r.read_exact(&mut h)?;
        if h[0] & 0x7f == 6 {
            return Ok(true);
        }
        if h[0] & 0x80 != 0 {
            return Ok(false);
        }
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
        r.seek_relative(i64::from(len))?;
    }
    Ok(false)
}

fn syncsafe(b: &[u8]) -> u32 {
    b.iter()
        .fold(0u32, |acc, &x| (acc << 7) | u32::from(x & 0x7f))
}

fn sniff_id3v2(r: &mut BufReader<File>) -> std::io::Result<bool> {
    let mut head = [0u8; 10];
    r.read_exact(&mut head)?;
    if &head[..3] != b"ID3" {
        return Ok(false);
    }
    let major = head[3];
    let tag_size = u64::from(syncsafe(&head[6..10]));
    let mut pos: u64 = 0;
    if head[5] & 0x40 != 0 && major >= 3 {
        // Extended header: its size is the first 4 bytes.
        let mut s = [0u8; 4];
        r.read_exact(&mut s)?;
        let n = if major == 4 {
            syncsafe(&s)
        } else {
            u32::from_be_bytes(s) + 4
        };
        r.seek_relative(i64::from(n) - 4)?;
        pos += u64::from(n);
    }
    let header_len: u64 = if major == 2 { 6 } else { 10 };
    while pos + header_len <= tag_size {
        let mut f = [0u8; 10];
        r.read_exact(&mut f[..header_len as usize])?;
        pos += header_len;
        if f[0] == 0 {
            return Ok(false);
        }
        let (id, size): (&[u8], u64) = match major {
            2 => (
                &f[..3],
                u64::from(u32::from_be_bytes([0, f[3], f[4], f[5]])),
            ),
            3 => (
                &f[..4],
                u64::from(u32::from_be_bytes([f[4], f[5], f[6], f[7]])),
            ),
            _ => (&f[..4], u64::from(syncsafe(&f[4..8]))),
        };
        if id == b"APIC" || id == b"PIC" {
            return Ok(true);
        }
        r.seek_relative(size as i64)?;
        pos += size;
    }
    Ok(false)
}

/// Walk MP4 atoms: moov → udta → meta → ilst → covr.
fn sniff_mp4(r: &mut BufReader<File>) -> std::io::Result<bool> {
    let end = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let path: [&[u8; 4]; 5] = [b"moov", b"udta", b"meta", b"ilst", b"covr"];
    let mut depth = 0;
    let mut limit = end;
    let mut pos = 0u64;
    for _ in 0..10_000 {
        if pos + 8 > limit {
            return Ok(false);
        }
        r.seek(SeekFrom::Start(pos))?;
        let mut h = [0u8; 8];
        r.read_exact(&mut h)?;
        let mut size = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
        let mut header = 8u64;
        if size == 1 {
            let mut big = [0u8; 8];
            r.read_exact(&mut big)?;
            size = u64::from_be_bytes(big);
            header = 16;
        } else if size == 0 {
            size = limit - pos;
        }
        if size < header {
            return Ok(false);
        }
        if &h[4..8] == path[depth] {
            if depth == path.len() - 1 {
                return Ok(true);
            }
            limit = pos + size;
            // `meta` is a full box: 4 bytes of version and flags before its children.
            pos += header + if path[depth] == b"meta" { 4 } else { 0 };
            depth += 1;
        } else {
            pos += size;
        }
    }
    Ok(false)
}

fn sniff_ogg(r: &mut BufReader<File>) -> std::io::Result<bool> {
    let mut buf = Vec::with_capacity(128 * 1024);
    r.take(128 * 1024).read_to_end(&mut buf)?;
    let needle = b"metadata_block_picture";
    Ok(buf
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle)))
}
