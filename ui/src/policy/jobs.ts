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

  /** `issuedAt`: the policy's clock (ms) when the fetch was issued. */
  constructor(
    readonly req: ChunkRequest,
    readonly issuedAt = 0,
  ) {}

  get chunk(): number {
    return this.req.chunk;
  }

  /** There is something to append (or, for an empty body, to finish). */
  get appendable(): boolean {
    return this.pieces.length > 0 || this.complete;
  }
}
