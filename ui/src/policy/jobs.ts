/**
 * A chunk on its way from the network into the SourceBuffer.
 *
 * A response may arrive in pieces (the server streams WebM Clusters as they are
 * encoded) or in one go (cache hits, the desktop app's custom scheme). Either
 * way the policy keeps one Job per request until the chunk's last piece has
 * been appended:
 *
 *   fetch ──▶ pieces arrive ──▶ first piece planned: window, reset, init
 *                                  └─▶ later pieces: same window, no reset, no init
 *                                        └─▶ response ended and every piece appended: done
 *
 * Once a chunk's first piece is in the SourceBuffer, its parser is in the middle
 * of that chunk: nothing else may be appended until the chunk's last piece, or
 * until an abort() (a `reset` append) throws the partial chunk away. Removals
 * may run in between.
 */
import type { ChunkRequest } from './types';

/** Where a chunk's pieces go; fixed when its first piece is planned. */
export interface Placement {
  windowStart: number;
  windowEnd: number;
  /** The first append calls SourceBuffer.abort() (a discontinuity). */
  reset: boolean;
}

export class Job<D> {
  /** Pieces that arrived and are not yet handed to an append. */
  readonly pieces: D[] = [];
  /** The response ended: no more pieces will come. */
  complete = false;
  /** Set when the first piece is planned. */
  place: Placement | null = null;
  /** Appends issued for this chunk so far. */
  parts = 0;

  /**
   * Where the media of the first piece ends (track seconds), when the server
   * says (`X-First-Span-End`): a switch chunk can go in on its first piece if
   * that piece holds the switch point.
   */
  firstEnd: number | undefined = undefined;

  constructor(readonly req: ChunkRequest) {}

  get chunk(): number {
    return this.req.chunk;
  }

  /** There is something to append (or, for an empty body, to finish). */
  get appendable(): boolean {
    return this.pieces.length > 0 || this.complete;
  }
}
