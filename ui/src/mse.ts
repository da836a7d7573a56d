/**
 * Thin adapter over MediaSource / SourceBuffer. It executes one append or
 * remove at a time (a small bounded queue covers the rare overlap), sets the
 * append window safely and keeps no chunk bytes after an append is handed to
 * the SourceBuffer.
 */
import type { Range } from './policy';

export class SinkError extends Error {
  constructor(
    message: string,
    readonly quota: boolean,
  ) {
    super(message);
    this.name = 'SinkError';
  }
}

type Op = { run: () => void; resolve: () => void; reject: (e: unknown) => void };

const MAX_QUEUE = 4;

export function mseSupported(mime: string): boolean {
  return typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(mime);
}

export class MseSink {
  readonly mediaSource: MediaSource;
  readonly ready: Promise<void>;
  private sb: SourceBuffer | null = null;
  private url: string | null;
  private queue: Op[] = [];
  private current: Op | null = null;
  private destroyed = false;
  private failed: SinkError | null = null;

  constructor(
    private readonly audio: HTMLMediaElement,
    private readonly mime: string,
    duration: number,
  ) {
    this.mediaSource = new MediaSource();
    this.url = URL.createObjectURL(this.mediaSource);
    this.ready = new Promise<void>((resolve, reject) => {
      const onOpen = () => {
        this.mediaSource.removeEventListener('sourceopen', onOpen);
        if (this.url) URL.revokeObjectURL(this.url);
        this.url = null;
        if (this.destroyed) return reject(new SinkError('The player was closed.', false));
        try {
          this.mediaSource.duration = duration;
          const sb = this.mediaSource.addSourceBuffer(this.mime);
          sb.mode = 'segments';
          // 'error' precedes the 'updateend' of a failed append.
          sb.addEventListener('error', () => {
            this.failed = new SinkError('The browser could not decode this audio.', false);
          });
          sb.addEventListener('updateend', () => {
            const err = this.failed;
            this.failed = null;
            this.finish(err);
          });
          this.sb = sb;
          resolve();
        } catch (e) {
          reject(new SinkError(`The browser cannot play this stream (${String((e as Error)?.message ?? e)}).`, false));
        }
      };
      this.mediaSource.addEventListener('sourceopen', onOpen);
    });
    audio.src = this.url;
  }

  buffered(): Range[] {
    const out: Range[] = [];
    const sb = this.sb;
    if (!sb || this.mediaSource.readyState === 'closed') return out;
    try {
      const b = sb.buffered;
      for (let i = 0; i < b.length; i++) out.push([b.start(i), b.end(i)]);
    } catch {
      /* SourceBuffer removed */
    }
    return out;
  }

  get busy(): boolean {
    return this.current !== null || this.queue.length > 0;
  }

  /**
   * Append one fragment with the window [start, end); `reset` calls abort() first.
   * `offset` is the SourceBuffer's timestampOffset for it (gapless: where its track starts
   * on the timeline; set before the window, while the SourceBuffer is idle).
   */
  append(data: BufferSource, windowStart: number, windowEnd: number, reset: boolean, offset = 0): Promise<void> {
    return this.enqueue(() => {
      const sb = this.sb!;
      if (reset && this.mediaSource.readyState === 'open') sb.abort(); // resets the window too
      if (sb.timestampOffset !== offset) sb.timestampOffset = offset;
      setWindow(sb, windowStart, windowEnd);
      sb.appendBuffer(data);
    });
  }

  remove(start: number, end: number): Promise<void> {
    return this.enqueue(() => {
      const sb = this.sb!;
      const dur = this.mediaSource.duration;
      const e = Math.min(end, Number.isFinite(dur) ? dur : end);
      const s = Math.max(0, start);
      if (!(e > s)) {
        this.finish(null);
        return;
      }
      sb.remove(s, e);
    });
  }

  /** Signal the end of the stream; a later append or remove reopens it. */
  endOfStream(): void {
    if (this.destroyed || !this.sb || this.sb.updating) return;
    if (this.mediaSource.readyState === 'open') {
      try {
        this.mediaSource.endOfStream();
      } catch {
        /* raced with an update: the policy re-issues it */
      }
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const err = new SinkError('The player was closed.', false);
    for (const op of this.queue) op.reject(err);
    this.queue = [];
    if (this.current) this.current.reject(err);
    this.current = null;
    try {
      if (this.sb && this.mediaSource.readyState === 'open') this.sb.abort();
    } catch {
      /* ignore */
    }
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
    this.sb = null;
    this.audio.removeAttribute('src');
    this.audio.load();
  }

  private enqueue(run: () => void): Promise<void> {
    if (this.destroyed) return Promise.reject(new SinkError('The player was closed.', false));
    if (this.queue.length >= MAX_QUEUE) return Promise.reject(new SinkError('Too many pending SourceBuffer operations.', false));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ run, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.current || this.destroyed) return;
    const op = this.queue.shift();
    if (!op) return;
    if (!this.sb || this.mediaSource.readyState === 'closed') {
      op.reject(new SinkError('The media source is closed.', false));
      this.next();
      return;
    }
    this.current = op;
    try {
      op.run();
    } catch (e) {
      this.current = null;
      const name = (e as DOMException)?.name;
      op.reject(new SinkError(String((e as Error)?.message ?? e), name === 'QuotaExceededError'));
      this.next();
    }
  }

  private finish(err: SinkError | null): void {
    const op = this.current;
    if (!op) return;
    this.current = null;
    if (err) op.reject(err);
    else op.resolve();
    this.next();
  }
}

/** Set [start, end) so that start < end holds after each assignment. */
export function setWindow(sb: Pick<SourceBuffer, 'appendWindowStart' | 'appendWindowEnd'>, start: number, end: number): void {
  if (start >= sb.appendWindowEnd) {
    sb.appendWindowEnd = end;
    sb.appendWindowStart = start;
  } else {
    sb.appendWindowStart = start;
    sb.appendWindowEnd = end;
  }
}
