/**
 * Pure time arithmetic of a track cut into chunks: which chunk holds a time,
 * where a chunk starts and ends, the 20 ms packet grid, and questions about
 * buffered ranges. No state; everything here is unit-tested on its own.
 */

export type Range = readonly [number, number];

export interface TrackGrid {
  /** Track duration in seconds (MediaSource duration). */
  duration: number;
  /** Nominal chunk length S in seconds. */
  chunkSeconds: number;
  /** Number of chunks; chunk n covers [n·S, min((n+1)·S, duration)). */
  chunkCount: number;
}

/** Index of the chunk that contains time t (clamped to the track). */
export function chunkAt(grid: TrackGrid, t: number): number {
  const n = Math.floor(t / grid.chunkSeconds + 1e-9);
  return Math.max(0, Math.min(grid.chunkCount - 1, n));
}

export function chunkStart(grid: TrackGrid, n: number): number {
  return n * grid.chunkSeconds;
}

export function chunkEnd(grid: TrackGrid, n: number): number {
  return n >= grid.chunkCount - 1 ? grid.duration : Math.min((n + 1) * grid.chunkSeconds, grid.duration);
}

/** Smallest point on the packet grid that is >= t (robust to float noise). */
export function gridCeil(t: number, packet: number): number {
  const k = Math.ceil(t / packet - 1e-6);
  return Math.round(k * packet * 1e6) / 1e6;
}

export function gridFloor(t: number, packet: number): number {
  const k = Math.floor(t / packet + 1e-6);
  return Math.round(k * packet * 1e6) / 1e6;
}

/** Total seconds held in `ranges`. */
export function totalBuffered(ranges: readonly Range[]): number {
  let s = 0;
  for (const [a, b] of ranges) s += Math.max(0, b - a);
  return s;
}

/** The range that contains t (start - eps <= t < end), if any. */
export function rangeAt(ranges: readonly Range[], t: number, eps = 0): Range | undefined {
  for (const r of ranges) if (r[0] - eps <= t && t < r[1]) return r;
  return undefined;
}

/** True if one range covers [from, to] within tolerance eps at both ends. */
export function covers(ranges: readonly Range[], from: number, to: number, eps: number): boolean {
  for (const [a, b] of ranges) if (a - eps <= from && b + eps >= to && b > from - eps) return true;
  return false;
}

/** Merge chunk indexes into time ranges (for the "processed" display). */
export function chunksToRanges(grid: TrackGrid, chunks: Iterable<number>): Range[] {
  const sorted = [...chunks].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const n of sorted) {
    const a = chunkStart(grid, n);
    const b = chunkEnd(grid, n);
    const last = out[out.length - 1];
    if (last && Math.abs(last[1] - a) < 1e-6) last[1] = b;
    else out.push([a, b]);
  }
  return out;
}
