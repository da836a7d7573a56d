/**
 * Search as you type: a query runs `delay` ms after the last keystroke, and
 * only the answer to the latest query is applied (older ones are aborted, and
 * dropped should they arrive anyway).
 */

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class LatestSearch<R> {
  private timer: unknown = null;
  private epoch = 0;
  private controller: AbortController | null = null;
  /** The query whose answer was applied last. */
  applied: string | null = null;

  constructor(
    private readonly run: (q: string, signal: AbortSignal) => Promise<R>,
    private readonly apply: (result: R, q: string) => void,
    private readonly opts: { delay?: number; timers?: Timers; onError?: (e: unknown, q: string) => void } = {},
  ) {}

  /** A keystroke: run `q` once typing pauses. */
  input(q: string): void {
    const timers = this.opts.timers ?? realTimers;
    if (this.timer !== null) timers.clearTimeout(this.timer);
    this.timer = timers.setTimeout(() => {
      this.timer = null;
      void this.now(q);
    }, this.opts.delay ?? 120);
  }

  /** Run `q` at once (Enter, a view change); resolves when it is applied or superseded. */
  async now(q: string): Promise<void> {
    if (this.timer !== null) {
      (this.opts.timers ?? realTimers).clearTimeout(this.timer);
      this.timer = null;
    }
    const epoch = ++this.epoch;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    let result: R;
    try {
      result = await this.run(q, controller.signal);
    } catch (e) {
      if (epoch === this.epoch && !controller.signal.aborted) this.opts.onError?.(e, q);
      return;
    }
    if (epoch !== this.epoch) return; // a newer query was started meanwhile
    this.applied = q;
    this.apply(result, q);
  }

  /** Drop whatever is pending. */
  cancel(): void {
    if (this.timer !== null) (this.opts.timers ?? realTimers).clearTimeout(this.timer);
    this.timer = null;
    this.epoch++;
    this.controller?.abort();
    this.controller = null;
  }
}

/** Whether a keydown should move focus to the search box: Ctrl/⌘+F anywhere, `/` when not typing. */
export function isSearchShortcut(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean }, typing: boolean): boolean {
  if (e.altKey) return false;
  if ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F')) return true;
  return e.key === '/' && !e.ctrlKey && !e.metaKey && !typing;
}
