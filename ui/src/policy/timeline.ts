/**
 * Gapless playback: consecutive tracks on ONE MediaSource timeline (pure arithmetic).
 *
 * Track j occupies [T_j, T_j + d_j) with T_{j+1} = T_j + d_j exactly (d_j is the track's
 * `duration_s`): WebKit stalls at timestamp gaps > ~83 ms, so the timeline must be exactly
 * continuous. A track's chunks carry timestamps from 0; they go in with
 * `timestampOffset = T_j` and the append window [T_j + k·S, T_j + min((k+1)·S, d_j)).
 *
 * The buffer policy keeps working in track time (0..d_j): the player shifts its snapshot
 * by −T_j and its append windows and removals by +T_j (`toTrack` / `toMedia`).
 */
import type { Range, TrackGrid } from './grid';

/** One track on the timeline. */
export interface Segment extends TrackGrid {
  id: string;
  /** T_j: where the track starts on the media timeline, in seconds. */
  start: number;
}

/** How long before the current track's end the next one is fetched and appended. */
export const PREFETCH_LEAD_S = 20;

/** Where a segment ends (= where the next one starts). */
export function segmentEnd(seg: Segment): number {
  return seg.start + seg.duration;
}

/** The segment that follows `seg` directly on the timeline. */
export function follow(seg: Segment, id: string, grid: TrackGrid): Segment {
  return { id, start: segmentEnd(seg), duration: grid.duration, chunkSeconds: grid.chunkSeconds, chunkCount: grid.chunkCount };
}

/** Append window of chunk k of `seg`, in media time: [T + k·S, T + min((k+1)·S, d)). */
export function chunkWindow(seg: Segment, k: number): Range {
  const a = k * seg.chunkSeconds;
  const b = k >= seg.chunkCount - 1 ? seg.duration : Math.min((k + 1) * seg.chunkSeconds, seg.duration);
  return [seg.start + a, seg.start + b];
}

/** Index of the segment that holds media time t (start ≤ t < end; the last one holds its end), or -1. */
export function segmentAt(segs: readonly Segment[], t: number): number {
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const last = i === segs.length - 1;
    if (t >= s.start && (t < segmentEnd(s) || (last && t <= segmentEnd(s)))) return i;
  }
  return -1;
}

/** Track time (what the policy and the seek bar see) of media time t in `seg`. */
export function toTrack(seg: Pick<Segment, 'start'>, t: number): number {
  return t - seg.start;
}

/** Media time of track time t in `seg`. */
export function toMedia(seg: Pick<Segment, 'start'>, t: number): number {
  return t + seg.start;
}

/** Ranges shifted by `by` seconds. */
export function shiftRanges(ranges: readonly Range[], by: number): Range[] {
  return ranges.map(([a, b]) => [a + by, b + by] as const);
}

/**
 * Whether the next track should be fetched and appended now: it is known, the playhead
 * (media time) is within `lead` of the current segment's end, and the current track is
 * fully buffered up to its end (its own chunks are all in: nothing of the current track
 * is appended between the next track's pieces).
 */
export function shouldPrefetchNext(seg: Segment, t: number, upcoming: string | null, currentComplete: boolean, lead = PREFETCH_LEAD_S): boolean {
  return upcoming !== null && currentComplete && t >= segmentEnd(seg) - lead && t < segmentEnd(seg);
}

/** The playhead (media time) has crossed into `next`. */
export function crossed(next: Segment, t: number): boolean {
  return t >= next.start;
}

/** The queue as far as the upcoming track is concerned (the core's PlayerState has these fields). */
export interface QueueView {
  tracks: readonly string[];
  index: number | null;
  repeat: 'off' | 'all' | 'one';
}

/**
 * The track that plays when the current one ends by itself (the core's `Player::upcoming()`):
 * index + 1; after the last, the first with repeat all, nothing with repeat off; with repeat
 * one the same track. `tracks` is in play order, so shuffle needs nothing more.
 */
export function upcomingTrack(q: QueueView): string | null {
  const i = q.index;
  if (i === null || i < 0 || i >= q.tracks.length) return null;
  if (q.repeat === 'one') return q.tracks[i] ?? null;
  if (i + 1 < q.tracks.length) return q.tracks[i + 1] ?? null;
  return q.repeat === 'all' ? (q.tracks[0] ?? null) : null;
}

/**
 * Whether a chain planned for `planned` (null: none) is broken by a new upcoming track:
 * the queue changed what plays next, so the pre-appended track must go.
 */
export function chainBroken(planned: string | null, upcoming: string | null): boolean {
  return planned !== null && planned !== upcoming;
}
