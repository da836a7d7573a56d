/**
 * The lists a track is started from (a view's tracks in their order, an album). What
 * plays next is the player core's business (src/core/): the page hands it the list's
 * ids (`collect`) with `play_now`.
 */
import type { Track } from '../bridge';

/** An ordered list of tracks, possibly fetched page by page. */
export interface TrackSource {
  /** The track at `index`, fetched if needed; undefined past the end. */
  at(index: number): Promise<Track | undefined>;
  /** The track at `index` if it is at hand. */
  get(index: number): Track | undefined;
  /** Where a track is among those at hand, or -1. */
  findLoaded(match: (t: Track) => boolean): number;
  /** Every track of the list, mapped, in order (fetched as needed). */
  collect<R>(map: (t: Track) => R): Promise<R[]>;
}

export function arraySource(tracks: readonly Track[]): TrackSource {
  return {
    at: (i) => Promise.resolve(tracks[i]),
    get: (i) => tracks[i],
    findLoaded: (m) => tracks.findIndex(m),
    collect: (map) => Promise.resolve(tracks.map(map)),
  };
}
