//! One chunk, start to finish: split into spans, render and encode the spans in parallel,
//! mux the packets into a media segment.
//!
//! A chunk is cut into up to `parts` spans on the packet grid so that both cores work on the
//! first chunk a listener waits for. The first span of a chunk writes its lead-in packets
//! (the chunk's pre-roll); later spans warm their encoder on a hidden lead-in and join the
//! previous span inside the fragment by the same guard recipe as chunks join.

use std::path::Path;

use crate::chunk::{ChunkPlan, PACKET_FRAMES};
use crate::decode::SourceInfo;
use crate::encode::{EncodedPacket, EncoderSettings, Lead, Span};
use crate::enhance::Chain;
use crate::error::Result;
use crate::render::{self, RenderReport};
use crate::webm;

/// Shortest span worth its own encoder (5 s): below that, the lead-in costs more than it saves.
const MIN_SPAN_PACKETS: i64 = 250;

/// A track as the pipeline sees it: where it is, what it is, and its chunk grid.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a Path,
    pub info: &'a SourceInfo,
    pub plan: &'a ChunkPlan,
}

/// The spans that make chunk `n`, split for `parts` workers.
pub fn spans(plan: &ChunkPlan, n: u64, parts: usize) -> Result<Vec<Span>> {
    let (first, end) = plan.packets(n)?;
    let last_chunk = n + 1 == plan.count();
    let (first, end) = (first as i64, end as i64);
    let len = end - first;
    let parts = (parts.max(1) as i64).min((len / MIN_SPAN_PACKETS).max(1));
    let mut out = Vec::with_capacity(parts as usize);
    for i in 0..parts {
        let a = first + len * i / parts;
        let b = first + len * (i + 1) / parts;
        let lead = match (i, a) {
            (_, 0) => Lead::TrackStart,
            (0, _) => Lead::Written,
            _ => Lead::Hidden,
        };
        out.push(Span {
            first: a,
            end: b,
            lead,
            joins_next: !(last_chunk && i + 1 == parts),
        });
    }
    Ok(out)
}

/// Makes a fresh enhancement chain for each render (each span runs its own).
pub type ChainFactory<'a> = dyn Fn() -> Chain + Sync + 'a;

/// Render the stream frames a span's encoder reads.
fn render_span(
    src: Source<'_>,
    span: &Span,
    chain: &ChainFactory<'_>,
) -> Result<(Vec<f32>, RenderReport)> {
    render::render_to_vec(src.path, src.info, span.render_range(), chain())
}

/// Run `job` for every span, in parallel, results in span order.
fn per_span<T: Send>(spans: &[Span], job: impl Fn(&Span) -> Result<T> + Sync) -> Result<Vec<T>> {
    if spans.len() == 1 {
        return Ok(vec![job(&spans[0])?]);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = spans
            .iter()
            .map(|span| {
                let job = &job;
                scope.spawn(move || job(span))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(crate::Error::Encoder("a render worker panicked".into()))
                })
            })
            .collect()
    })
}

/// The media segment of chunk `n`.
pub fn chunk_fragment(
    src: Source<'_>,
    n: u64,
    chain: &ChainFactory<'_>,
    settings: &EncoderSettings,
    parts: usize,
) -> Result<(Vec<u8>, RenderReport)> {
    let spans = spans(src.plan, n, parts)?;
    let encoded = per_span(&spans, |span| {
        let (pcm, report) = render_span(src, span, chain)?;
        Ok((span.encode(settings, &pcm)?, report))
    })?;
    let damaged = encoded.iter().any(|(_, r)| r.damaged);
    let packets: Vec<&EncodedPacket> = encoded.iter().flat_map(|(p, _)| p.iter()).collect();
    let segment = webm::media_segment(packets.iter().map(|p| (p.index, p.data.as_slice())))?;
    Ok((segment, RenderReport { damaged }))
}

/// The enhanced PCM of chunk `n` exactly as the chunk path renders it for its encoders,
/// without lead-in or look-ahead: frames `[start, end)` of the chunk.
pub fn chunk_pcm(
    src: Source<'_>,
    n: u64,
    chain: &ChainFactory<'_>,
    parts: usize,
) -> Result<Vec<f32>> {
    let (start, end) = src.plan.frames(n)?;
    let spans = spans(src.plan, n, parts)?;
    let pcms = per_span(&spans, |span| {
        let (pcm, _) = render_span(src, span, chain)?;
        let (render_start, _) = span.render_range();
        let f = PACKET_FRAMES as i64;
        // The span plays [first·960, end·960), cut at the track end.
        let from = span.first * f - render_start;
        let to = (span.end * f).min(end as i64) - render_start;
        Ok(pcm[from as usize * 2..to as usize * 2].to_vec())
    })?;
    let out: Vec<f32> = pcms.concat();
    debug_assert_eq!(out.len() as u64, (end - start) * 2);
    Ok(out)
}

/// The whole track rendered in one continuous pass, streamed into `sink`.
pub fn continuous_pcm(
    src: Source<'_>,
    chain: Chain,
    sink: &mut render::Sink<'_>,
) -> Result<RenderReport> {
    let total = src.plan.total_frames() as i64;
    render::render(src.path, src.info, (0, total), chain, sink)
}
