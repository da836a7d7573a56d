//! One chunk, start to finish: split into spans, render and encode the spans on a few
//! workers, mux each span's packets into Clusters and hand them on in order.
//!
//! A chunk is cut into spans on the packet grid: a short first span ([`FIRST_SPAN_PACKETS`],
//! 1 s), then spans of [`SPAN_PACKETS`] (5 s). Workers take spans in order, and each span's
//! Clusters go out as soon as it and every span before it are done — so a listener waiting for
//! a chunk can start playing after a second of it is encoded, not all thirty. The layout
//! depends only on the chunk grid, never on the number of workers, so a chunk's bytes are the
//! same on every machine and in every order.
//!
//! The first span of a chunk writes its lead-in packets (the chunk's pre-roll); later spans
//! warm their encoder on a hidden lead-in and join the previous span inside the fragment by
//! the same guard recipe as chunks join.
//!
//! A seek or a preset switch into a 5 s span that is not made yet waits for a second of it,
//! not five: [`split_at`] cuts that span at the moment asked for (on a [`SPLIT_PACKETS`]
//! grid) into a 1 s piece, the rest after it and the part before, each its own span.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::chunk::{ChunkPlan, PACKET_FRAMES};
use crate::decode::SourceInfo;
use crate::encode::{EncoderSettings, Lead, Span};
use crate::enhance::Chain;
use crate::error::{Error, Result};
use crate::priority::RenderPriority;
use crate::render::{self, RenderReport};
use crate::webm;

/// The first span of every chunk (1 s): what a listener waits for before the first sound.
pub const FIRST_SPAN_PACKETS: i64 = 50;
/// The spans after it (5 s); a shorter remainder than half of this joins the span before.
pub const SPAN_PACKETS: i64 = 250;

/// Where [`split_at`] may cut a span: every 200 ms from its start, so nearby moments (a
/// switch heard at once, then the main player's own switch a little later) share pieces.
pub const SPLIT_PACKETS: i64 = 10;

/// `span` cut for a listener who wants packet `at` first: the pieces in the order to make
/// and deliver them — [`FIRST_SPAN_PACKETS`] from `at` (rounded down to [`SPLIT_PACKETS`]),
/// the rest of the span after it, the part before it. A span no longer than the first
/// piece, or `at` outside it, stays whole. The pieces join like spans inside a chunk (hidden
/// lead-in, guards), so what they play is what the span plays.
pub fn split_at(span: &Span, at: i64) -> Vec<Span> {
    if span.end - span.first <= FIRST_SPAN_PACKETS || !(span.first..span.end).contains(&at) {
        return vec![*span];
    }
    let q = span.first + (at - span.first) / SPLIT_PACKETS * SPLIT_PACKETS;
    let mid = (q + FIRST_SPAN_PACKETS).min(span.end);
    let piece = |first: i64, end: i64| Span {
        first,
        end,
        lead: if first == span.first {
            span.lead
        } else {
            Lead::Hidden
        },
        joins_next: end < span.end || span.joins_next,
    };
    let mut out = vec![piece(q, mid)];
    if mid < span.end {
        out.push(piece(mid, span.end));
    }
    if span.first < q {
        out.push(piece(span.first, q));
    }
    out
}

/// A track as the pipeline sees it: where it is, what it is, and its chunk grid.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a Path,
    pub info: &'a SourceInfo,
    pub plan: &'a ChunkPlan,
}

/// The spans that make chunk `n`, in order.
pub fn spans(plan: &ChunkPlan, n: u64) -> Result<Vec<Span>> {
    let (first, end) = plan.packets(n)?;
    let last_chunk = n + 1 == plan.count();
    let (first, end) = (first as i64, end as i64);
    let mut bounds = vec![first];
    let mut at = (first + FIRST_SPAN_PACKETS).min(end);
    while at < end {
        bounds.push(at);
        at += SPAN_PACKETS;
    }
    // A short remainder rides with the span before it (the first span stays short).
    if bounds.len() > 2 && end - bounds[bounds.len() - 1] < SPAN_PACKETS / 2 {
        bounds.pop();
    }
    bounds.push(end);
    let count = bounds.len() - 1;
    Ok(bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| Span {
            first: w[0],
            end: w[1],
            lead: if i == 0 { Lead::Written } else { Lead::Hidden },
            joins_next: !(last_chunk && i + 1 == count),
        })
        .collect())
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

/// Run `job` for every item on up to `workers` threads, which take items in order; `deliver`
/// gets each result in item order as soon as it and all before it are done. The first error
/// (from a job or from `deliver`) stops the workers from starting more items and is returned.
pub fn in_order<I: Sync, T: Send>(
    spans: &[I],
    workers: usize,
    job: impl Fn(&I) -> Result<T> + Sync,
    deliver: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    in_order_at(spans, workers, RenderPriority::Normal, job, deliver)
}

/// [`in_order`] with the workers at `priority` (a render ahead of the playhead yields the CPU).
/// A lowered render always runs on worker threads of its own, which end with it: the calling
/// thread (a server's pooled thread) keeps its level.
pub fn in_order_at<I: Sync, T: Send>(
    spans: &[I],
    workers: usize,
    priority: RenderPriority,
    job: impl Fn(&I) -> Result<T> + Sync,
    mut deliver: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let workers = workers.clamp(1, spans.len().max(1));
    if workers == 1 && !priority.is_lowered() {
        for span in spans {
            deliver(job(span)?)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Result<T>)>();
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (tx, job, next, stop) = (tx.clone(), &job, &next, &stop);
                scope.spawn(move || {
                    priority.apply_to_current_thread();
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(span) = spans.get(i) else { break };
                        if tx.send((i, job(span))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        // Results that came early wait here (at most one chunk's spans).
        let mut early: Vec<Option<T>> = spans.iter().map(|_| None).collect();
        let mut due = 0;
        let mut outcome = Ok(());
        while due < spans.len() {
            let Ok((i, result)) = rx.recv() else {
                outcome = Err(Error::Encoder("a render worker panicked".into()));
                break;
            };
            match result {
                Ok(value) => early[i] = Some(value),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
            while let Some(value) = early.get_mut(due).and_then(Option::take) {
                if let Err(e) = deliver(value) {
                    outcome = Err(e);
                    break;
                }
                due += 1;
            }
            if outcome.is_err() {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        for h in handles {
            if h.join().is_err() && outcome.is_ok() {
                outcome = Err(Error::Encoder("a render worker panicked".into()));
            }
        }
        outcome
    })
}

/// The Clusters of one span of a chunk: its packets, encoded and muxed. Chunk `n`'s media
/// segment is the concatenation of its spans' Clusters in span order; MSE also accepts them
/// in another order, since every Cluster carries its own timestamps and every Opus packet is
/// a random-access point.
pub fn span_clusters(
    src: Source<'_>,
    span: &Span,
    chain: &ChainFactory<'_>,
    settings: &EncoderSettings,
) -> Result<(Vec<u8>, RenderReport)> {
    let (pcm, report) = render_span(src, span, chain)?;
    let packets = span.encode(settings, &pcm)?;
    let clusters = webm::media_segment(packets.iter().map(|p| (p.index, p.data.as_slice())))?;
    Ok((clusters, report))
}

/// The media segment of chunk `n` (uncached), rendered on `workers` threads.
pub fn chunk_fragment(
    src: Source<'_>,
    n: u64,
    chain: &ChainFactory<'_>,
    settings: &EncoderSettings,
    workers: usize,
) -> Result<(Vec<u8>, RenderReport)> {
    let spans = spans(src.plan, n)?;
    let mut segment = Vec::new();
    let mut damaged = false;
    in_order(
        &spans,
        workers,
        |span| span_clusters(src, span, chain, settings),
        |(clusters, report)| {
            damaged |= report.damaged;
            segment.extend_from_slice(&clusters);
            Ok(())
        },
    )?;
    Ok((segment, RenderReport { damaged }))
}

/// The enhanced PCM of chunk `n` exactly as the chunk path renders it for its encoders,
/// without lead-in or look-ahead: frames `[start, end)` of the chunk.
pub fn chunk_pcm(
    src: Source<'_>,
    n: u64,
    chain: &ChainFactory<'_>,
    workers: usize,
) -> Result<Vec<f32>> {
    let (start, end) = src.plan.frames(n)?;
    let spans = spans(src.plan, n)?;
    let mut out = Vec::with_capacity(((end - start) * 2) as usize);
    in_order(
        &spans,
        workers,
        |span| {
            let (pcm, _) = render_span(src, span, chain)?;
            let (render_start, _) = span.render_range();
            let f = PACKET_FRAMES as i64;
            // The span plays [first·960, end·960), cut at the track end.
            let from = span.first * f - render_start;
            let to = (span.end * f).min(end as i64) - render_start;
            Ok(pcm[from as usize * 2..to as usize * 2].to_vec())
        },
        |pcm| {
            out.extend_from_slice(&pcm);
            Ok(())
        },
    )?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn span(first: i64, end: i64, lead: Lead, joins_next: bool) -> Span {
        Span {
            first,
            end,
            lead,
            joins_next,
        }
    }

    #[test]
    fn a_long_span_splits_at_the_moment_asked_for_on_its_grid() {
        let s = span(1550, 1800, Lead::Hidden, false);
        // At 1 673: the second from 1 670, the rest after it, the part before it.
        assert_eq!(
            split_at(&s, 1673),
            vec![
                span(1670, 1720, Lead::Hidden, true),
                span(1720, 1800, Lead::Hidden, false),
                span(1550, 1670, Lead::Hidden, true),
            ]
        );
        // At its start: the first second keeps the span's lead, nothing before.
        let w = span(1550, 1800, Lead::Written, true);
        assert_eq!(
            split_at(&w, 1555),
            vec![
                span(1550, 1600, Lead::Written, true),
                span(1600, 1800, Lead::Hidden, true)
            ]
        );
        // Near its end: the last piece is short, nothing after it.
        assert_eq!(
            split_at(&s, 1795),
            vec![
                span(1790, 1800, Lead::Hidden, false),
                span(1550, 1790, Lead::Hidden, true)
            ]
        );
        // Short spans and moments outside stay whole.
        let short = span(1500, 1550, Lead::Written, true);
        assert_eq!(split_at(&short, 1520), vec![short]);
        assert_eq!(split_at(&s, 1900), vec![s]);
    }
}
