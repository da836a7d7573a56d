//! Decoding: any file symphonia reads → interleaved stereo `f32` at the source rate.
//!
//! A [`SourceReader`] delivers frames from an exact frame position. After a seek it decodes
//! a short warm-up first (MP3's bit reservoir, MDCT overlap) and drops frames by timestamp,
//! so the frames it delivers are the same ones a decode from the start would deliver —
//! the property chunked rendering rests on.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, StandardTag};
use symphonia::core::units::{TimeBase, Timestamp};

use crate::downmix::Downmix;
use crate::error::{Error, Result};

use crate::limits::{self, MAX_CONSECUTIVE_ERRORS, MAX_PACKETS_WITHOUT_AUDIO};
pub use crate::limits::{MAX_CHANNELS, MAX_DURATION_S, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
/// Most silent frames inserted for one timestamp gap (one second at the source rate is
/// normal for a damaged file; more means nonsense timestamps).
const MAX_GAP_SECONDS: u64 = 10;

/// What a file is, read once when it is opened.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// Sample rate of the source, Hz.
    pub sample_rate: u32,
    /// Channel count of the source (output is always stereo).
    pub channels: usize,
    /// Short codec name (`flac`, `mp3`, `aac`, …).
    pub codec: String,
    /// Playable frames at the source rate (after gapless trimming).
    pub frames: u64,
    /// Tags, when the file has them.
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
}

impl SourceInfo {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }
}

/// What probing found, before validation.
struct Probed {
    codec: String,
    channels: usize,
    declared_frames: Option<u64>,
    /// Size of the file in bytes (bounds what it can plausibly hold).
    file_len: u64,
    title: Option<String>,
    artist: Option<String>,
    album: Option<String>,
}

/// Reads stereo frames from a file, from any frame position.
pub struct SourceReader {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    time_base: Option<TimeBase>,
    rate: u32,
    downmix: Downmix,
    /// Source frame position of the next frame `pending` yields; `None` right after a seek.
    next_pos: Option<u64>,
    /// Decoded stereo frames not yet handed out, and how many are already consumed.
    pending: Vec<f32>,
    pending_off: usize,
    /// Silent frames still to deliver before `pending` (timestamp gaps).
    gap_frames: u64,
    scratch: Vec<f32>,
    ended: bool,
    /// Frames of encoder priming to drop at the start (MP4 edit list), at the source rate.
    delay: u64,
    /// Set when the file ended early or had damaged packets; the caller may warn.
    pub damaged: bool,
}

impl SourceReader {
    /// Open `path`, probe it, check it against the [`limits`], and read its [`SourceInfo`].
    ///
    /// The length comes from the container when it is plausible (present, within what the
    /// file's size can hold, within [`MAX_DURATION_S`]); otherwise it is measured here, once:
    /// by a scan of packet durations for FLAC (no decoding), else by one decode pass.
    /// Later renders take the [`SourceInfo`] and never measure again
    /// ([`SourceReader::reopen`]).
    pub fn open(path: &Path) -> Result<(Self, SourceInfo)> {
        let (mut reader, probed) = Self::build(path)?;
        let rate = reader.rate;
        limits::check_rate(path, rate)?;
        limits::check_channels(path, probed.channels)?;
        let frames = match limits::trust_declared(
            probed.declared_frames,
            probed.file_len,
            &probed.codec,
            rate,
        ) {
            Some(n) => n,
            None => {
                // FLAC frame headers give exact block sizes; a PCM packet's duration is
                // what the header promised, not what a truncated file holds.
                let exact_packets = probed.codec == "flac";
                let scanned = if exact_packets {
                    reader.scan_packets()
                } else {
                    0
                };
                let n = if scanned > 0 {
                    scanned
                } else {
                    if exact_packets {
                        reader = Self::build(path)?.0;
                    }
                    reader.count_frames()?
                };
                reader = Self::build(path)?.0;
                n
            }
        };
        if frames == 0 {
            return Err(Error::unsupported(path, "it contains no audio"));
        }
        limits::check_duration(path, frames, rate)?;
        let info = SourceInfo {
            sample_rate: rate,
            channels: probed.channels,
            codec: probed.codec,
            frames,
            title: probed.title,
            artist: probed.artist,
            album: probed.album,
        };
        Ok((reader, info))
    }

    /// Open `path` again for a render, trusting the [`SourceInfo`] that
    /// [`SourceReader::open`] made: no length measurement, whatever the container says.
    pub fn reopen(path: &Path, info: &SourceInfo) -> Result<Self> {
        let (reader, probed) = Self::build(path)?;
        if reader.rate != info.sample_rate || probed.channels != info.channels {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: "it changed since it was opened".into(),
            });
        }
        Ok(reader)
    }

    /// Probe `path` and make a reader positioned at frame 0.
    fn build(path: &Path) -> Result<(Self, Probed)> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            return Err(Error::unsupported(path, "the file is empty"));
        }
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let mut format = guarded(path, || {
            symphonia::default::get_probe().probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
        })?
        .map_err(|e| probe_error(path, e))?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(|| Error::unsupported(path, "it has no audio track"))?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| Error::unsupported(path, "its audio format is unknown"))?
            .clone();
        let track_id = track.id;
        let time_base = track.time_base;
        let declared_frames = track.num_frames;
        let rate = params
            .sample_rate
            .ok_or_else(|| Error::unsupported(path, "its sample rate is unknown"))?;
        let decoder = guarded(path, || {
            symphonia::default::get_codecs()
                .make_audio_decoder(&params, &AudioDecoderOptions::default())
        })?
        .map_err(|e| probe_error(path, e))?;
        let (title, artist, album) = read_tags(format.as_mut());
        let probed = Probed {
            codec: decoder.codec_info().short_name.to_string(),
            channels: params.channels.as_ref().map(|c| c.count()).unwrap_or(2),
            declared_frames,
            file_len: len,
            title,
            artist,
            album,
        };
        let reader = SourceReader {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            time_base,
            rate,
            // Some containers only learn the layout from the first decoded packet; `fill`
            // rebuilds the matrix when a packet disagrees.
            downmix: params
                .channels
                .as_ref()
                .map(Downmix::for_channels)
                .unwrap_or_else(|| Downmix::discrete(2)),
            next_pos: Some(0),
            pending: Vec::new(),
            pending_off: 0,
            gap_frames: 0,
            scratch: Vec::new(),
            ended: false,
            delay: 0,
            damaged: false,
        };
        let mut reader = reader;
        let mut probed = probed;
        if let Some(g) = crate::mp4_gapless::read(path, rate) {
            reader.delay = g.delay;
            probed.declared_frames = Some(match probed.declared_frames {
                Some(n) => g.frames.min(n.saturating_sub(g.delay)),
                None => g.frames,
            });
        }
        Ok((reader, probed))
    }

    /// Source sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Position so that the next [`read`](Self::read) starts exactly at source frame `frame`.
    pub fn seek(&mut self, frame: u64) -> Result<()> {
        if self.next_pos == Some(frame) {
            return Ok(());
        }
        // Warm-up before the target: MP3 bit reservoir, MDCT overlap, Vorbis long blocks.
        let warm = u64::from(self.rate / 5).max(8192);
        let from = frame.saturating_sub(warm);
        let behind = self.next_pos.is_some_and(|p| p <= from);
        if !behind || from - self.next_pos.unwrap_or(0) > u64::from(self.rate) {
            self.seek_container(from)?;
        }
        self.skip_to(frame)
    }

    fn seek_container(&mut self, from: u64) -> Result<()> {
        let ts = self.frame_to_ts(from + self.delay);
        let track_id = self.track_id;
        let seeked = guarded(&self.path, || {
            self.format
                .seek(SeekMode::Accurate, SeekTo::Timestamp { ts, track_id })
        })?;
        match seeked {
            Ok(_) => {
                self.decoder.reset();
                self.pending.clear();
                self.pending_off = 0;
                self.gap_frames = 0;
                self.next_pos = None;
                self.ended = false;
                Ok(())
            }
            Err(e) => {
                // Not seekable: decode from the start (slow but exact).
                log::warn!(
                    "{}: seek failed ({e}); decoding from the start",
                    self.path.display()
                );
                let (fresh, _) = SourceReader::build(&self.path)?;
                *self = fresh;
                Ok(())
            }
        }
    }

    /// Drop frames until the next one delivered is `frame`.
    fn skip_to(&mut self, frame: u64) -> Result<()> {
        loop {
            if self.next_pos.is_none() && !self.fill()? {
                return Ok(());
            }
            let Some(pos) = self.next_pos else {
                return Ok(());
            };
            if pos > frame {
                // The container landed after the target: decode from the start instead.
                log::warn!(
                    "{}: seek overshot; decoding from the start",
                    self.path.display()
                );
                let (fresh, _) = SourceReader::build(&self.path)?;
                *self = fresh;
                return self.skip_to(frame);
            }
            let avail = self.available();
            if avail == 0 {
                if !self.fill()? {
                    return Ok(());
                }
                continue;
            }
            let drop = (frame - pos).min(avail as u64) as usize;
            self.consume(drop);
            if self.next_pos == Some(frame) {
                return Ok(());
            }
        }
    }

    /// Fill `out` (interleaved stereo) with the next frames. Returns frames written;
    /// fewer than asked only at the end of the stream.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize> {
        let want = out.len() / 2;
        let mut done = 0;
        while done < want {
            if self.available() == 0 && !self.fill()? {
                break;
            }
            let n = self.available().min(want - done);
            if self.gap_frames > 0 {
                out[done * 2..(done + n) * 2].fill(0.0);
            } else {
                let s = self.pending_off * 2;
                out[done * 2..(done + n) * 2].copy_from_slice(&self.pending[s..s + n * 2]);
            }
            self.consume(n);
            done += n;
        }
        Ok(done)
    }

    fn available(&self) -> usize {
        if self.gap_frames > 0 {
            self.gap_frames.min(1 << 16) as usize
        } else {
            self.pending.len() / 2 - self.pending_off
        }
    }

    fn consume(&mut self, n: usize) {
        if self.gap_frames > 0 {
            self.gap_frames -= n as u64;
        } else {
            self.pending_off += n;
        }
        if let Some(p) = self.next_pos.as_mut() {
            *p += n as u64;
        }
    }

    /// Decode the next packet into `pending`. Returns false at the end of the stream.
    fn fill(&mut self) -> Result<bool> {
        let mut errors = 0;
        // Packets read without a frame to deliver: bounded, so a reader that loops ends.
        let mut idle: u32 = 0;
        loop {
            if self.ended {
                return Ok(false);
            }
            idle += 1;
            if idle > MAX_PACKETS_WITHOUT_AUDIO {
                return Err(Error::Corrupt {
                    path: self.path.clone(),
                    reason: format!("{MAX_PACKETS_WITHOUT_AUDIO} packets in a row gave no audio"),
                });
            }
            let next = guarded(&self.path, || self.format.next_packet());
            let packet = match next.inspect_err(|_| self.ended = true)? {
                Ok(Some(p)) => p,
                Ok(None) | Err(SymError::ResetRequired) => {
                    self.ended = true;
                    return Ok(false);
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.damaged = true;
                    self.ended = true;
                    return Ok(false);
                }
                Err(e) => {
                    log::warn!("{}: stopped reading: {e}", self.path.display());
                    self.damaged = true;
                    self.ended = true;
                    return Ok(false);
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let start = self.ts_to_frame(packet.pts) + self.dur_to_frames(packet.trim_start.get())
                - self.delay as i64;
            let decoded = guarded(&self.path, || self.decoder.decode(&packet));
            match decoded.inspect_err(|_| self.ended = true)? {
                Ok(buf) => {
                    errors = 0;
                    if buf.frames() == 0 {
                        continue;
                    }
                    let channels = buf.spec().channels().count();
                    if channels != self.downmix.inputs() {
                        limits::check_channels(&self.path, channels)?;
                        self.downmix = Downmix::for_channels(buf.spec().channels());
                    }
                    buf.copy_to_vec_interleaved(&mut self.scratch);
                    limits::sanitize(&mut self.scratch);
                    self.pending.clear();
                    self.pending_off = 0;
                    self.downmix.apply(&self.scratch, &mut self.pending);
                    self.place(start);
                    if self.available() > 0 {
                        return Ok(true);
                    }
                }
                // Symphonia's contract: a decode or I/O error inside one packet means that
                // packet is damaged; skip it and go on.
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                    self.damaged = true;
                    errors += 1;
                    log::debug!("{}: skipped a damaged packet", self.path.display());
                    if errors > MAX_CONSECUTIVE_ERRORS {
                        return Err(Error::Corrupt {
                            path: self.path.clone(),
                            reason: "too many packets cannot be decoded".into(),
                        });
                    }
                }
                Err(e) => {
                    return Err(Error::Corrupt {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }

    /// Reconcile a freshly decoded buffer starting at `start` with the expected position:
    /// overlap (and anything before the track start) is dropped, a gap becomes silence.
    fn place(&mut self, start: i64) {
        let frames = (self.pending.len() / 2) as i64;
        let expected = match self.next_pos {
            Some(e) => e as i64,
            None => {
                // Right after a seek: take the container's word, from the track start on.
                self.next_pos = Some(start.max(0) as u64);
                start.max(0)
            }
        };
        if start < expected {
            self.pending_off = (expected - start).min(frames) as usize;
        } else if start > expected {
            let gap = (start - expected) as u64;
            if gap <= MAX_GAP_SECONDS * u64::from(self.rate) {
                self.gap_frames = gap;
            } else {
                self.damaged = true;
            }
        }
    }

    fn frame_to_ts(&self, frame: u64) -> Timestamp {
        let ts = match self.time_base {
            Some(tb) => {
                let num = u128::from(frame) * u128::from(tb.denom.get());
                let den = u128::from(self.rate) * u128::from(tb.numer.get());
                (num / den.max(1)) as i64
            }
            None => frame as i64,
        };
        Timestamp::from(ts)
    }

    fn ts_to_frame(&self, ts: Timestamp) -> i64 {
        let ts = ts.get();
        match self.time_base {
            Some(tb) => {
                let num = i128::from(ts) * i128::from(tb.numer.get()) * i128::from(self.rate);
                let den = i128::from(tb.denom.get());
                (num + den / 2).div_euclid(den) as i64
            }
            None => ts,
        }
    }

    fn dur_to_frames(&self, dur: u64) -> i64 {
        self.ts_to_frame(Timestamp::from(dur.min(i64::MAX as u64) as i64))
    }

    /// Decode all packets to learn the length of a file whose container does not say it
    /// (stops past [`MAX_DURATION_S`], which the caller then refuses).
    fn count_frames(&mut self) -> Result<u64> {
        let cap = MAX_DURATION_S.saturating_add(1) * u64::from(self.rate);
        let mut total: u64 = 0;
        let mut buf = vec![0.0f32; 2 * 8192];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > cap {
                break;
            }
        }
        Ok(total)
    }

    /// Sum the durations of the track's packets without decoding them: exact for FLAC
    /// (each frame header gives its block size). 0 when the scan learns nothing.
    /// Stops at a read error (the damaged tail is not counted), past [`MAX_DURATION_S`], or
    /// after [`MAX_PACKETS_WITHOUT_AUDIO`] packets in a row that add nothing.
    fn scan_packets(&mut self) -> u64 {
        let cap = MAX_DURATION_S.saturating_add(1) * u64::from(self.rate);
        let mut total: u64 = 0;
        let mut idle: u32 = 0;
        while let Ok(Ok(Some(packet))) = guarded(&self.path, || self.format.next_packet()) {
            let frames = if packet.track_id == self.track_id {
                self.dur_to_frames(packet.dur.get()).max(0) as u64
            } else {
                0
            };
            total = total.saturating_add(frames);
            idle = if frames == 0 { idle + 1 } else { 0 };
            if total > cap || idle > MAX_PACKETS_WITHOUT_AUDIO {
                break;
            }
        }
        total
    }
}

/// Run a call into symphonia, turning a panic into [`Error::Corrupt`]. Its parsers have
/// panicked on hostile input (fuzzing found an arithmetic overflow in its WAV header parser,
/// a panic where overflow checks are on); the reader is not used again after one.
fn guarded<T>(path: &Path, call: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).map_err(|_| Error::Corrupt {
        path: path.to_path_buf(),
        reason: "the decoding library failed on it".into(),
    })
}

fn probe_error(path: &Path, e: SymError) -> Error {
    match e {
        SymError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
            Error::io(path, io)
        }
        SymError::IoError(_) => Error::Corrupt {
            path: path.to_path_buf(),
            reason: "it ends inside its header (cut short?)".into(),
        },
        SymError::Unsupported(what) if what.contains("probe") => {
            Error::unsupported(path, "no audio format was recognised in it")
        }
        SymError::Unsupported(what) if what.contains("missing") => Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("it is incomplete or damaged ({what})"),
        },
        SymError::Unsupported(what) => {
            Error::unsupported(path, format!("its codec is not supported ({what})"))
        }
        SymError::DecodeError(what) => Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("its header is damaged or not audio ({what})"),
        },
        SymError::LimitError(what) => Error::Limit {
            path: path.to_path_buf(),
            reason: what.to_string(),
        },
        _ => Error::unsupported(path, "no audio format was recognised in it"),
    }
}

fn read_tags(format: &mut dyn FormatReader) -> (Option<String>, Option<String>, Option<String>) {
    let (mut title, mut artist, mut album) = (None, None, None);
    let mut metadata = format.metadata();
    if let Some(rev) = metadata.skip_to_latest() {
        let tags = rev
            .media
            .tags
            .iter()
            .chain(rev.per_track.iter().flat_map(|t| t.metadata.tags.iter()));
        for tag in tags {
            match &tag.std {
                Some(StandardTag::TrackTitle(s)) if title.is_none() => title = Some(s.to_string()),
                Some(StandardTag::Artist(s)) if artist.is_none() => artist = Some(s.to_string()),
                Some(StandardTag::Album(s)) if album.is_none() => album = Some(s.to_string()),
                _ => {}
            }
        }
    }
    (title, artist, album)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside the decoding library becomes an error that names the file.
    #[test]
    fn a_panic_in_symphonia_becomes_corrupt() {
        let path = Path::new("x.wav");
        let e = guarded(path, || -> u32 { panic!("overflow") }).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }));
        assert!(e.to_string().contains("x.wav"), "{e}");
        assert_eq!(guarded(path, || 7).unwrap(), 7);
    }

    /// A container reader that hands out packets of another track forever.
    struct Stuck(Box<dyn FormatReader>);

    impl FormatReader for Stuck {
        fn format_info(&self) -> &symphonia::core::formats::FormatInfo {
            self.0.format_info()
        }
        fn media_info(&self) -> &symphonia::core::formats::MediaInfo {
            self.0.media_info()
        }
        fn metadata(&mut self) -> symphonia::core::meta::Metadata<'_> {
            self.0.metadata()
        }
        fn seek(
            &mut self,
            mode: SeekMode,
            to: SeekTo,
        ) -> symphonia::core::errors::Result<symphonia::core::formats::SeekedTo> {
            self.0.seek(mode, to)
        }
        fn tracks(&self) -> &[symphonia::core::formats::Track] {
            self.0.tracks()
        }
        fn next_packet(
            &mut self,
        ) -> symphonia::core::errors::Result<Option<symphonia::core::packet::Packet>> {
            Ok(Some(symphonia::core::packet::Packet::new(
                999,
                Timestamp::from(0),
                symphonia::core::units::Duration::from(0u64),
                vec![0u8; 4],
            )))
        }
        fn into_inner<'s>(self: Box<Self>) -> MediaSourceStream<'s>
        where
            Self: 's,
        {
            self.0.into_inner()
        }
    }

    /// A reader that never yields audio ends with an error after a bounded number of packets.
    #[test]
    fn a_stuck_reader_ends_with_an_error() {
        let dir = std::env::temp_dir().join(format!("sonance-stuck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stuck.wav");
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00");
        wav.extend_from_slice(&8000u32.to_le_bytes());
        wav.extend_from_slice(&16000u32.to_le_bytes());
        wav.extend_from_slice(b"\x02\x00\x10\x00data\x08\x00\x00\x00");
        wav.extend_from_slice(&[0; 8]);
        std::fs::write(&path, wav).unwrap();
        let (mut reader, _) = SourceReader::build(&path).unwrap();
        reader.format = Box::new(Stuck(reader.format));
        let started = std::time::Instant::now();
        let e = reader.read(&mut [0.0; 64]).unwrap_err();
        assert!(
            e.to_string().contains("packets in a row gave no audio"),
            "{e}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(dir);
    }
}
