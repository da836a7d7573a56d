/**
 * What goes in and out of the buffer policy: the snapshot of the media element
 * that comes with every event, the chunk requests it makes, and the actions
 * the player executes.
 */
import type { Range } from './grid';

export interface Snapshot {
  /** Wall clock in ms (monotonic). */
  now: number;
  /** Media element currentTime in seconds. */
  currentTime: number;
  /** SourceBuffer.buffered as [start, end] pairs, ascending. */
  buffered: readonly Range[];
}

export type Purpose = 'start' | 'seek' | 'prefetch' | 'switch';

export interface ChunkRequest {
  /** Unique id of this request (a retry gets a new id). */
  id: number;
  chunk: number;
  /** Opaque rendering key (preset + intensity). */
  key: string;
  epoch: number;
  /** 0 for the first try. */
  attempt: number;
  purpose: Purpose;
  /**
   * Seconds into the track this request waits for (a seek target, a switch
   * point): the server sends the span that plays then first, so the wait is for
   * that span, not for the chunk up to it.
   */
  at?: number;
}

export interface FetchFailure {
  /** HTTP status; undefined for a network failure. */
  status?: number;
  /** A sentence for a person (the server's `message` where there is one). */
  message: string;
}

export type RemoveReason = 'behind' | 'ahead' | 'clear' | 'replace' | 'stale' | 'quota';

export type Action<D> =
  | { type: 'fetch'; req: ChunkRequest }
  /** Abort every in-flight request whose epoch is lower than `before`. */
  | { type: 'cancel'; before: number }
  /** Abort this one request: its chunk is no longer wanted (its late pieces are dropped anyway). */
  | { type: 'abort'; req: ChunkRequest }
  | {
      type: 'append';
      req: ChunkRequest;
      /**
       * The pieces of the chunk's body that arrived since its previous append, in
       * order: append them as one buffer. Whole bodies come as one piece.
       */
      pieces: D[];
      windowStart: number;
      windowEnd: number;
      /** Call SourceBuffer.abort() first (discontinuity), then set the window. Only on a chunk's first append. */
      reset: boolean;
      /** Put the init segment of `req.key` in front. Only on a chunk's first append, once per key change (and after a reset). */
      init: boolean;
      /** 0 for the chunk's first append, then 1, 2, … */
      part: number;
    }
  | { type: 'remove'; start: number; end: number; reason: RemoveReason }
  | { type: 'endOfStream' }
  /** Call tick() again at (or after) this wall-clock time in ms. */
  | { type: 'wake'; at: number }
  /** Diagnostic: a response or queued chunk that was thrown away. */
  | { type: 'drop'; req: ChunkRequest; why: string }
  /** The server refused a key (e.g. an unimplemented preset); playback went back to `fallbackKey`. */
  | { type: 'keyRejected'; key: string; fallbackKey: string; message: string; status?: number }
  /** Fatal for this track: the player shows `message` and stops streaming. */
  | { type: 'error'; message: string; status?: number };

export type Phase = 'idle' | 'loading' | 'seeking' | 'switching' | 'streaming' | 'complete' | 'error';

export interface PolicyState {
  phase: Phase;
  epoch: number;
  key: string | null;
  goalAhead: number;
  keepBehind: number;
  /** Requests whose response has not ended yet. */
  inflight: ChunkRequest[];
  /** Chunks whose response ended and that are not fully appended yet. */
  ready: number[];
  /** The chunk whose first piece is in the SourceBuffer and whose last is not yet. */
  open: number | null;
  retrying: { chunk: number; at: number; attempt: number }[];
  sbBusy: string | null;
  sbQueued: string[];
  pending: number;
  pendingSeek: number | null;
  switching: boolean;
  staleBefore: number | null;
  eosIssued: boolean;
  fetchedChunks: number[];
  error: string | null;
}
