//! The engine's public face: open a track, get its init segment and its chunks.

use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use lru::LruCache;

use sonance_cache::{CacheConfig, CacheKey, CacheStats, FragmentCache};

use crate::chunk::{self, ChunkPlan};
use crate::decode::{SourceInfo, SourceReader};
use crate::encode::{EncoderSettings, Span};
use crate::enhance::{Enhancement, TrackAnalysis};
use crate::error::{Error, Result};
use crate::pipeline::{self, Source};
use crate::priority::RenderPriority;
use crate::render::frames_at_48k;
use crate::webm;

/// Bump when the bytes of a fragment change for the same input (cache keys include it).
/// 2: spans of 1 s + 5 s within a chunk (progressive delivery), cached span by span.
const FRAGMENT_FORMAT: u32 = 2;

/// Validated engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Chunk length in seconds (multiple of 20 ms, 1…600). Default 30.
    pub chunk_seconds: f64,
    /// Opus settings.
    pub encoder: EncoderSettings,
    /// Threads encoding one chunk's spans at once. Default: the machine's cores. It changes
    /// how fast a chunk is made, never its bytes.
    pub workers_per_chunk: usize,
    /// Where finished fragments are kept.
    pub cache: CacheConfig,
    /// The level of a render made ahead of the playhead (a chunk asked for without `at=`
    /// that is not a track's first). Renders someone waits for always run at the normal level.
    /// Default: normal (or [`RenderPriority::ENV`]). Lowering it was measured against the
    /// web view's dropouts under load and did not reduce them, while it made prefetch renders
    /// about 10× slower on a saturated machine (BENCHMARKS.md "Dropouts under load").
    pub ahead_priority: RenderPriority,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            chunk_seconds: 30.0,
            encoder: EncoderSettings::default(),
            workers_per_chunk: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cache: CacheConfig {
                memory_bytes: 256 << 20,
                disk: None,
            },
            ahead_priority: RenderPriority::ahead_from_env(RenderPriority::Normal),
        }
    }
}

/// A file the engine has opened: what it is and how it is cut.
#[derive(Debug, Clone)]
pub struct Track {
    path: PathBuf,
    info: SourceInfo,
    plan: ChunkPlan,
    identity: String,
}

impl Track {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// What the file is.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }
    /// Its chunk grid.
    pub fn plan(&self) -> &ChunkPlan {
        &self.plan
    }
    /// Duration at 48 kHz in seconds.
    pub fn duration_s(&self) -> f64 {
        self.plan.total_frames() as f64 / 48_000.0
    }
    /// Seconds `[start, end)` that chunk `n` plays.
    pub fn chunk_span_s(&self, n: u64) -> Result<(f64, f64)> {
        let (a, b) = self.plan.frames(n)?;
        Ok((a as f64 / 48_000.0, b as f64 / 48_000.0))
    }
    /// What identifies this file's content for caching: path, size and modification time.
    pub fn identity(&self) -> &str {
        &self.identity
    }
    /// The view of this track the [`pipeline`] functions take.
    pub fn source(&self) -> Source<'_> {
        Source {
            path: &self.path,
            info: &self.info,
            plan: &self.plan,
        }
    }
}

/// A track's analysis as kept outside the engine (e.g. by the library).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnalysis {
    /// Integrated loudness, LUFS (−∞: silent): what album mode needs of it.
    pub loudness_lufs: f64,
    /// What [`Engine::prime_analysis`] takes back.
    pub text: String,
}

/// `analysis` with the default choice (`adaptive` at full intensity) calibrated, as text.
fn stored_form(analysis: &TrackAnalysis) -> Result<StoredAnalysis> {
    let _ = Enhancement::new(crate::Preset::Adaptive, 1.0)?.spec(analysis);
    Ok(StoredAnalysis {
        loudness_lufs: analysis.stats().loudness_lufs,
        text: analysis.to_stored(),
    })
}

/// Tracks whose analysis is kept: each holds its excerpts (16 × 0.8 s of 48 kHz stereo,
/// ~5 MB), which later preset or intensity changes calibrate on. The playing track, the next
/// one and a couple of recent ones.
const ANALYSES_KEPT: usize = 4;

/// One track's analysis slot: filled once; callers arriving meanwhile wait for it.
type AnalysisSlot = Arc<Mutex<Option<Arc<TrackAnalysis>>>>;

/// Renders and caches fragments. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Engine {
    config: EngineConfig,
    cache: FragmentCache,
    /// Track analyses by track identity (most recently used kept).
    analyses: Mutex<LruCache<String, AnalysisSlot>>,
    /// The analysis of nothing, for choices that need none (bypass, intensity 0).
    no_analysis: Arc<TrackAnalysis>,
}

impl Engine {
    /// An engine with `config`.
    pub fn new(config: EngineConfig) -> Result<Self> {
        chunk::chunk_packets(config.chunk_seconds)?;
        config.encoder.validate()?;
        let cache = FragmentCache::new(config.cache.clone())
            .map_err(|e| Error::InvalidParameter(format!("cache: {e}")))?;
        Ok(Engine {
            config,
            cache,
            analyses: Mutex::new(LruCache::new(
                NonZeroUsize::new(ANALYSES_KEPT).unwrap_or(NonZeroUsize::MIN),
            )),
            no_analysis: Arc::new(TrackAnalysis::none()),
        })
    }

    /// The analysis of `track` (loudness, spectrum, dynamics, excerpts): measured once per
    /// track identity, then kept while the track is among the most recently used.
    pub fn analysis(&self, track: &Track) -> Result<Arc<TrackAnalysis>> {
        let slot = {
            let mut map = self.analyses.lock().unwrap_or_else(|e| e.into_inner());
            map.get_or_insert(track.identity.clone(), Default::default)
                .clone()
        };
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let a = Arc::new(TrackAnalysis::from_file(&track.path, &track.info)?);
        *slot = Some(a.clone());
        Ok(a)
    }

    /// Make `stored` (an analysis of `track` kept by [`Engine::analyse_for_storage`], e.g. in
    /// the library) the one in use for `track`, unless one is already known: the track's first
    /// processed span then needs no analysis. Returns whether it was taken (false: already
    /// known, or `stored` is not a stored analysis).
    pub fn prime_analysis(&self, track: &Track, stored: &str) -> bool {
        let slot = {
            let mut map = self.analyses.lock().unwrap_or_else(|e| e.into_inner());
            map.get_or_insert(track.identity.clone(), Default::default)
                .clone()
        };
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return false;
        }
        match TrackAnalysis::from_stored(stored, &track.path, &track.info) {
            Some(a) => {
                *slot = Some(Arc::new(a));
                true
            }
            None => false,
        }
    }

    /// Analyse `track` for keeping outside the engine (the library, at scan time): its
    /// statistics and the calibration of the default choice (`adaptive` at full intensity),
    /// as [`Engine::prime_analysis`] takes them back. The engine's own kept analyses are
    /// neither used nor disturbed (a library's worth of tracks passes through here).
    pub fn analyse_for_storage(&self, track: &Track) -> Result<StoredAnalysis> {
        stored_form(&TrackAnalysis::from_file(&track.path, &track.info)?)
    }

    /// [`Engine::analysis`] (measured now if it is not known) in the form
    /// [`Engine::analyse_for_storage`] gives.
    pub fn stored_analysis(&self, track: &Track) -> Result<StoredAnalysis> {
        stored_form(&*self.analysis(track)?)
    }

    /// The analysis `enh` needs on `track` (none for bypass).
    fn analysis_for(&self, track: &Track, enh: &Enhancement) -> Result<Arc<TrackAnalysis>> {
        if enh.needs_analysis() {
            self.analysis(track)
        } else {
            Ok(self.no_analysis.clone())
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Open and probe a file.
    pub fn open(&self, path: &Path) -> Result<Track> {
        let (_, info) = SourceReader::open(path)?;
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let identity = format!("{}|{}|{}", canonical.display(), meta.len(), mtime);
        let plan = ChunkPlan::new(frames_at_48k(&info), self.config.chunk_seconds)?;
        Ok(Track {
            path: path.to_path_buf(),
            info,
            plan,
            identity,
        })
    }

    /// The init segment every chunk of `track` follows.
    pub fn init_segment(&self, track: &Track) -> Vec<u8> {
        webm::init_segment(track.duration_s() * 1000.0)
    }

    /// Chunk `n` of `track` as a media segment: from the cache, or rendered once however many
    /// callers ask at the same time.
    pub fn chunk(&self, track: &Track, n: u64, enh: &Enhancement) -> Result<Arc<[u8]>> {
        self.chunk_progressive(track, n, enh, None, &mut |_| ControlFlow::Continue(()))
            .map(Arc::from)
    }

    /// [`Engine::chunk`], delivered span by span: unless the whole chunk is cached,
    /// `on_clusters` gets each span's Clusters as soon as they are ready (from the cache, or
    /// rendered), so playback can start on the first second while the rest is made. The
    /// cache holds spans, so a span made once is never made again, whoever asks.
    ///
    /// With `first_at` (seconds into the track), delivery starts with the span that plays at
    /// that moment, goes on to the chunk's end, then brings the spans before it: a seek or a
    /// preset switch into the middle of a chunk waits only for the span it lands in. The
    /// returned bytes are the Clusters in that order (MSE places Clusters by their
    /// timestamps; in span order they are the chunk's media segment).
    ///
    /// `on_clusters` returns [`ControlFlow::Break`] when nobody listens any more (the client
    /// went away): no further span is started, the spans being rendered finish (and are
    /// cached), and the call returns [`Error::Cancelled`].
    pub fn chunk_progressive(
        &self,
        track: &Track,
        n: u64,
        enh: &Enhancement,
        first_at: Option<f64>,
        on_clusters: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<Vec<u8>> {
        let order = self.delivery(track, n, enh, first_at)?;
        let mut segment = Vec::new();
        // All cached (a chunk played before): the whole answer at once, no workers.
        let cached: Option<Vec<Arc<[u8]>>> =
            order.iter().map(|(key, _)| self.cache.get(key)).collect();
        if let Some(cached) = cached {
            return Ok(cached.concat());
        }
        pipeline::in_order_at(
            &order,
            self.config.workers_per_chunk,
            self.render_priority(n, first_at),
            |(key, span)| self.span(track, n, key, span, enh),
            |clusters| {
                if on_clusters(&clusters).is_break() {
                    return Err(Error::Cancelled);
                }
                segment.extend_from_slice(&clusters);
                Ok(())
            },
        )?;
        Ok(segment)
    }

    /// The level of the threads rendering chunk `n` asked for with `first_at`: the page asks
    /// for the chunk it plays from (a start, a seek, a switch) with `at=`, and for the chunks
    /// after it without (prefetch, made while earlier chunks play). A first chunk without
    /// `at=` may be a track about to be heard, so it is never lowered.
    fn render_priority(&self, n: u64, first_at: Option<f64>) -> RenderPriority {
        if first_at.is_none() && n > 0 {
            self.config.ahead_priority
        } else {
            RenderPriority::Normal
        }
    }

    /// The spans of chunk `n` with their cache keys, in the order to deliver them for
    /// `first_at`: from the span that plays then to the chunk's end, then the ones before.
    /// A 5 s span that plays then and is not cached is split ([`pipeline::split_at`]), so the
    /// listener waits for a second of it.
    fn delivery(
        &self,
        track: &Track,
        n: u64,
        enh: &Enhancement,
        first_at: Option<f64>,
    ) -> Result<Vec<(CacheKey, Span)>> {
        let spans = pipeline::spans(&track.plan, n)?;
        let first = first_span(&spans, first_at);
        let at = first_at.map(|s| (s * chunk::PACKETS_PER_SECOND as f64).floor() as i64);
        let mut head = Vec::new();
        let mut tail = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            let key = self.key(track, n, &i.to_string(), enh);
            let pieces = match at {
                Some(at) if i == first && !self.cache.contains(&key) => {
                    pipeline::split_at(span, at)
                }
                _ => vec![*span],
            };
            let whole = pieces.len() == 1;
            // Where the first piece starts: a split span's part before it goes last.
            let q = pieces[0].first;
            for piece in pieces {
                let key = if whole {
                    key.clone()
                } else {
                    self.key(track, n, &format!("{}-{}", piece.first, piece.end), enh)
                };
                if i < first || piece.end <= q {
                    tail.push((key, piece));
                } else {
                    head.push((key, piece));
                }
            }
        }
        head.extend(tail);
        Ok(head)
    }

    /// Where the media of the first span [`Engine::chunk_progressive`] delivers for `first_at`
    /// starts and ends, in seconds (the end cut at the track's end).
    pub fn first_span_s(
        &self,
        track: &Track,
        n: u64,
        enh: &Enhancement,
        first_at: Option<f64>,
    ) -> Result<(f64, f64)> {
        let order = self.delivery(track, n, enh, first_at)?;
        let (_, span) = order
            .first()
            .ok_or_else(|| Error::InvalidParameter(format!("chunk {n} has no spans")))?;
        let s = |packet: i64| packet as f64 / chunk::PACKETS_PER_SECOND as f64;
        Ok((s(span.first), s(span.end).min(track.duration_s())))
    }

    /// A span of chunk `n`: from the cache under `key`, or rendered once.
    fn span(
        &self,
        track: &Track,
        n: u64,
        key: &CacheKey,
        span: &Span,
        enh: &Enhancement,
    ) -> Result<Arc<[u8]>> {
        self.cache
            .get_or_compute(key, || {
                let analysis = self.analysis_for(track, enh).map_err(Arc::new)?;
                let (clusters, report) = pipeline::span_clusters(
                    track.source(),
                    span,
                    &|| enh.chain(&analysis),
                    &self.config.encoder,
                )
                .map_err(Arc::new)?;
                if report.damaged {
                    log::warn!(
                        "{}: damaged or truncated; chunk {n} has silence where it could not be decoded",
                        track.path.display()
                    );
                }
                Ok(clusters)
            })
            .map_err(|e| Arc::try_unwrap(e).unwrap_or_else(|e| clone_error(&e)))
    }

    /// Whether chunk `n` is ready without rendering.
    pub fn is_cached(&self, track: &Track, n: u64, enh: &Enhancement) -> bool {
        pipeline::spans(&track.plan, n).is_ok_and(|spans| {
            (0..spans.len()).all(|i| {
                self.cache
                    .contains(&self.key(track, n, &i.to_string(), enh))
            })
        })
    }

    /// Render chunk `n` without the cache.
    pub fn render_chunk(&self, track: &Track, n: u64, enh: &Enhancement) -> Result<Vec<u8>> {
        let analysis = self.analysis_for(track, enh)?;
        let (segment, report) = pipeline::chunk_fragment(
            track.source(),
            n,
            &|| enh.chain(&analysis),
            &self.config.encoder,
            self.config.workers_per_chunk,
        )?;
        if report.damaged {
            log::warn!(
                "{}: damaged or truncated; chunk {n} has silence where it could not be decoded",
                track.path.display()
            );
        }
        Ok(segment)
    }

    /// The enhanced PCM of chunk `n` as the chunk path renders it (for checks).
    pub fn chunk_pcm(&self, track: &Track, n: u64, enh: &Enhancement) -> Result<Vec<f32>> {
        let analysis = self.analysis_for(track, enh)?;
        pipeline::chunk_pcm(
            track.source(),
            n,
            &|| enh.chain(&analysis),
            self.config.workers_per_chunk,
        )
    }

    /// The whole track enhanced in one continuous pass (for checks).
    pub fn continuous_pcm(
        &self,
        track: &Track,
        enh: &Enhancement,
        sink: &mut crate::render::Sink<'_>,
    ) -> Result<()> {
        let analysis = self.analysis_for(track, enh)?;
        pipeline::continuous_pcm(track.source(), enh.chain(&analysis), sink).map(|_| ())
    }

    /// Cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The cache key of span `i` of chunk `n` (a piece of a split span: `first-end`).
    fn key(&self, track: &Track, n: u64, i: &str, enh: &Enhancement) -> CacheKey {
        CacheKey(format!(
            "v{FRAGMENT_FORMAT}|{}|{}|{}|{}|{n}|{i}",
            track.identity,
            track.plan.chunk_packets(),
            self.config.encoder.key(),
            enh.key(),
        ))
    }
}

/// The index of the span that plays at `at` seconds (the first span when `at` is before the
/// chunk, after it, or not given).
fn first_span(spans: &[Span], at: Option<f64>) -> usize {
    at.filter(|s| s.is_finite())
        .map(|s| (s * chunk::PACKETS_PER_SECOND as f64).floor() as i64)
        .and_then(|packet| spans.iter().position(|sp| packet < sp.end))
        .unwrap_or(0)
}

/// Errors are shared between single-flight waiters; each caller gets its own copy.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Io { path, err } => Error::Io {
            path: path.clone(),
            err: std::io::Error::new(err.kind(), err.to_string()),
        },
        Error::Unsupported { path, reason } => Error::Unsupported {
            path: path.clone(),
            reason: reason.clone(),
        },
        Error::Corrupt { path, reason } => Error::Corrupt {
            path: path.clone(),
            reason: reason.clone(),
        },
        Error::InvalidParameter(s) => Error::InvalidParameter(s.clone()),
        Error::Limit { path, reason } => Error::Limit {
            path: path.clone(),
            reason: reason.clone(),
        },
        Error::Encoder(s) => Error::Encoder(s.clone()),
        Error::Cancelled => Error::Cancelled,
    }
}
