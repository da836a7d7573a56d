/**
 * A bounded cache of one list's pages (one query: search text, sort, filters).
 * Each page is fetched once (concurrent asks share the request); at most
 * `maxPages` are kept, the least recently used go first (never one being shown);
 * a response that arrives after `dispose()` or `reset()` is dropped.
 * An older server that does not page answers with the whole list at once: then
 * that is all there is.
 */
import type { Page } from '../bridge';
import { pagesFor } from './virtualList';

export type PageFetcher<T> = (offset: number, limit: number, signal: AbortSignal) => Promise<Page<T>>;

export interface PageCacheOptions {
  pageSize?: number;
  maxPages?: number;
  /** Something new can be shown (a page arrived, the total is known). */
  onChange?: () => void;
  /** A page could not be fetched (not called for aborts). */
  onError?: (e: unknown) => void;
}

export class PageCache<T> {
  readonly pageSize: number;
  readonly maxPages: number;
  /** How many items the list has; null until the first answer. */
  total: number | null = null;
  /** The server sent the whole list in one answer. */
  whole: boolean = false;
  private readonly pages = new Map<number, T[]>();
  private readonly loading = new Map<number, Promise<void>>();
  private epoch = 0;
  private controller = new AbortController();
  private disposed = false;
  /** Pages asked for by the last `ensure` (kept through eviction). */
  private pinned = new Set<number>();
  /** How many requests were made (for tests and diagnostics). */
  requests = 0;

  constructor(
    private readonly fetcher: PageFetcher<T>,
    private readonly opts: PageCacheOptions = {},
  ) {
    this.pageSize = Math.max(1, opts.pageSize ?? 200);
    this.maxPages = Math.max(1, opts.maxPages ?? 50);
  }

  get size(): number {
    return this.total ?? 0;
  }

  /** The item at `index` if its page is here. */
  get(index: number): T | undefined {
    if (this.whole) return this.pages.get(0)?.[index];
    const p = Math.floor(index / this.pageSize);
    return this.pages.get(p)?.[index - p * this.pageSize];
  }

  hasPage(p: number): boolean {
    return this.whole ? this.pages.has(0) : this.pages.has(p);
  }

  get cachedPages(): number {
    return this.pages.size;
  }

  /** Fetch whatever of rows [start, end) is not here yet; resolves once all of it is (or failed). */
  async ensure(start: number, end: number): Promise<void> {
    if (this.disposed) return;
    const wanted = this.whole ? [0] : pagesFor(start, this.total === null ? end : Math.min(end, this.total), this.pageSize);
    if (this.total === null && wanted.length === 0) wanted.push(0);
    this.pinned = new Set(wanted);
    const jobs: Promise<void>[] = [];
    for (const p of wanted) {
      const page = this.pages.get(p);
      if (page) {
        // Most recently used last.
        this.pages.delete(p);
        this.pages.set(p, page);
        continue;
      }
      jobs.push(this.load(p));
    }
    await Promise.all(jobs);
  }

  /** The item at `index`, fetched if needed; undefined past the end. */
  async at(index: number): Promise<T | undefined> {
    if (index < 0) return undefined;
    if (this.total !== null && index >= this.total) return undefined;
    const here = this.get(index);
    if (here !== undefined) return here;
    await this.load(this.whole ? 0 : Math.floor(index / this.pageSize));
    return this.get(index);
  }

  /** Where the first item that `match`es is among the pages that are here, or -1. */
  findLoaded(match: (item: T) => boolean): number {
    for (const [p, items] of this.pages) {
      const i = items.findIndex(match);
      if (i >= 0) return (this.whole ? 0 : p * this.pageSize) + i;
    }
    return -1;
  }

  /** Every item of the list, mapped, in order (pages are fetched as needed; the cache stays bounded). */
  async collect<R>(map: (item: T) => R): Promise<R[]> {
    await this.at(0);
    const out: R[] = [];
    const total = this.total ?? 0;
    for (let i = 0; i < total; ) {
      const item = await this.at(i);
      if (item === undefined) break;
      out.push(map(item));
      i++;
      // The rest of this page without awaiting.
      for (let x = this.get(i); x !== undefined && i < total; x = this.get(++i)) out.push(map(x));
    }
    return out;
  }

  /** Forget all pages (the list changed on the server); answers still on their way are dropped. */
  reset(): void {
    this.epoch++;
    this.controller.abort();
    this.controller = new AbortController();
    this.pages.clear();
    this.loading.clear();
    this.total = null;
    this.whole = false;
  }

  /** Stop: abort what is in flight and drop whatever still arrives. */
  dispose(): void {
    this.disposed = true;
    this.reset();
  }

  private load(p: number): Promise<void> {
    if (this.disposed) return Promise.resolve();
    const existing = this.loading.get(p);
    if (existing) return existing;
    if (this.pages.has(p)) return Promise.resolve();
    const epoch = this.epoch;
    this.requests++;
    const job = this.fetcher(p * this.pageSize, this.pageSize, this.controller.signal).then(
      (page) => {
        if (epoch !== this.epoch) return; // stale: the list was reset or disposed meanwhile
        this.loading.delete(p);
        if (page.whole) {
          this.whole = true;
          this.pages.clear();
          this.pages.set(0, page.items);
        } else {
          this.pages.set(p, page.items);
        }
        this.total = page.total;
        this.evict();
        this.opts.onChange?.();
      },
      (e: unknown) => {
        if (epoch !== this.epoch) return;
        this.loading.delete(p);
        if (!isAbort(e)) this.opts.onError?.(e);
      },
    );
    this.loading.set(p, job);
    return job;
  }

  private evict(): void {
    if (this.whole) return;
    for (const p of this.pages.keys()) {
      if (this.pages.size <= this.maxPages) break;
      if (!this.pinned.has(p)) this.pages.delete(p);
    }
  }
}

function isAbort(e: unknown): boolean {
  return typeof e === 'object' && e !== null && ((e as { kind?: unknown }).kind === 'aborted' || (e as { name?: unknown }).name === 'AbortError');
}
