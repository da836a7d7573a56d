/**
 * What plays next: the list a track was started from (a view's tracks in their
 * order, an album) and where in it. Later the Rust player core owns the queue;
 * then `ids()` of a view is what is handed over.
 */
import type { Track, TrackId } from '../bridge';

/** An ordered list of tracks, possibly fetched page by page. */
export interface TrackSource {
  /** The track at `index`, fetched if needed; undefined past the end. */
  at(index: number): Promise<Track | undefined>;
  /** The track at `index` if it is at hand. */
  get(index: number): Track | undefined;
  /** Where a track is among those at hand, or -1. */
  findLoaded(match: (t: Track) => boolean): number;
}

export function arraySource(tracks: readonly Track[]): TrackSource {
  return {
    at: (i) => Promise.resolve(tracks[i]),
    get: (i) => tracks[i],
    findLoaded: (m) => tracks.findIndex(m),
  };
}

const same = (a: TrackId | null | undefined, b: TrackId | null | undefined) => a !== null && a !== undefined && b !== null && b !== undefined && String(a) === String(b);

export class PlayQueue {
  private source: TrackSource | null = null;
  private index = -1;

  /**
   * `fallback`: the list to go on through when a track was started from no list
   * (the desktop shell loads its start track directly), e.g. the songs view.
   */
  constructor(private readonly fallback?: () => TrackSource | null) {}

  /** Playing starts at `index` of `source`. */
  start(source: TrackSource, index: number): void {
    this.source = source;
    this.index = index;
  }

  get position(): number {
    return this.index;
  }

  /** The track after `current` (what plays now) in the list it was started from. */
  async next(current: TrackId | null): Promise<Track | undefined> {
    let src: TrackSource | null = this.source;
    let i = this.index;
    if (!src || !same(src.get(i)?.id, current)) {
      // Something else started it (the desktop shell): find it among what is at hand,
      // in the list it was started from, else in the fallback list.
      const found = locate(src, current) ?? locate(this.fallback?.() ?? null, current);
      if (!found) return undefined;
      [src, i] = found;
      this.source = src;
    }
    // Missing files are skipped: they cannot play.
    for (let n = i + 1; ; n++) {
      const t = await src.at(n);
      if (this.source !== src) return undefined; // replaced while fetching
      if (!t) return undefined;
      if (!t.missing) {
        this.index = n;
        return t;
      }
    }
  }
}

function locate(src: TrackSource | null, id: TrackId | null): [TrackSource, number] | null {
  if (!src) return null;
  const i = src.findLoaded((t) => same(t.id, id));
  return i >= 0 ? [src, i] : null;
}
