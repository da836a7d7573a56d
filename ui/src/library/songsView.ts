/**
 * Songs: the library's tracks in a virtualised table. Only the rows in view
 * (plus overscan) are in the DOM, between two spacer rows that keep the
 * scrollbar true to the whole list; pages of tracks are fetched as the user
 * scrolls (PageCache). The rows keep the shape the tests and the desktop shell
 * rely on: `#track-list tr[data-id]`, a title button named by the title.
 */
import type { Bridge, Track, TrackId } from '../bridge';
import { formatTime } from '../format';
import { h } from '../ui/dom';
import { unplayableReason } from './format';
import { PageCache } from './pages';
import type { TrackSource } from './queue';
import { LatestSearch } from './search';
import { sortOrder, toggleSort } from './sort';
import { rowWindow } from './virtualList';

export const ROW_HEIGHT = 34;
const OVERSCAN = 10;
const PAGE_SIZE = 200;
const MAX_PAGES = 50;

export interface SongsStatus {
  /** Tracks in this view (with the search applied). */
  total: number;
  query: string;
  /** The server does not page (older server): no library features. */
  whole: boolean;
}

export class SongsView {
  private cache: PageCache<Track>;
  private sort: string | null = null;
  private query = '';
  private readonly search: LatestSearch<{ cache: PageCache<Track>; sort: string | null }>;
  /** The text typed last (its search may still be waiting for the debounce). */
  private wanted = '';
  private appliedSort: string | null = null;
  private currentId: TrackId | null = null;
  private currentFailed = false;
  private frame = 0;
  private shown = { start: -1, end: -1, version: -1 };
  private version = 0;
  private readonly headers: HTMLElement[];
  /** The rows in the DOM by index, with the item and list they show. */
  private readonly rendered = new Map<number, { row: HTMLTableRowElement; track: Track | undefined; cache: PageCache<Track> }>();
  private readonly topSpacer = spacer(0);
  private readonly bottomSpacer = spacer(0);

  constructor(
    private readonly scroller: HTMLElement,
    private readonly body: HTMLTableSectionElement,
    head: HTMLElement,
    private readonly bridge: Bridge,
    private readonly onPlay: (source: TrackSource, index: number) => void,
    private readonly onStatus: (s: SongsStatus) => void,
    private readonly onError: (e: unknown) => void,
    /** A row's context menu (right click, Menu key): queue actions for its track. */
    private readonly onMenu?: (track: Track, x: number, y: number, from: HTMLElement) => void,
  ) {
    this.cache = this.makeCache('', null);
    this.search = new LatestSearch(
      async (q, signal) => {
        const sort = this.sort;
        const cache = this.makeCache(q, sort);
        signal.addEventListener('abort', () => cache.dispose());
        await cache.ensure(0, this.visibleRows());
        if (cache.total === null) throw new Error('The library could not be loaded.');
        return { cache, sort };
      },
      ({ cache, sort }, q) => this.swap(cache, q, sort),
      { onError: (e) => this.onError(e) },
    );
    this.headers = [...head.querySelectorAll<HTMLElement>('th[data-sort]')];
    for (const th of this.headers) {
      const button = th.querySelector('button');
      button?.addEventListener('click', () => this.setSort(toggleSort(this.sort, th.dataset.sort!)));
    }
    this.renderHeaders();
    scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.schedule()).observe(scroller);
    else window.addEventListener('resize', () => this.schedule());
  }

  /** The list the user sees, in order (for a queue). */
  get source(): TrackSource {
    return this.cache;
  }

  get total(): number | null {
    return this.cache.total;
  }

  /** Load (or load again: the library changed) with the current search and sort; resolves when shown. */
  reload(): Promise<void> {
    return this.search.now(this.wanted);
  }

  /** Search as you type (debounced). */
  input(q: string): void {
    this.wanted = q;
    this.search.input(q);
  }

  setQuery(q: string): Promise<void> {
    this.wanted = q;
    return this.search.now(q);
  }

  get appliedQuery(): string | null {
    return this.search.applied;
  }

  setSort(sort: string | null): void {
    this.sort = sort;
    this.renderHeaders();
    void this.search.now(this.wanted);
  }

  /** Ids of every track of this view in order (fetched as needed). */
  ids(): Promise<TrackId[]> {
    return this.cache.collect((t) => t.id);
  }

  setCurrent(id: TrackId | null, failed = false): void {
    this.currentId = id;
    this.currentFailed = failed;
    for (const row of this.body.querySelectorAll<HTMLTableRowElement>('tr[data-id]')) this.markRow(row);
  }

  /** Render now (a view was just shown). */
  refresh(): void {
    this.shown.version = -1;
    this.render();
  }

  private makeCache(q: string, sort: string | null): PageCache<Track> {
    const cache: PageCache<Track> = new PageCache<Track>(
      (offset, limit, signal) => this.bridge.trackPage({ q, sort: sort ?? undefined, offset, limit }, signal),
      {
        pageSize: PAGE_SIZE,
        maxPages: MAX_PAGES,
        onChange: () => {
          if (cache === this.cache) {
            this.version++;
            this.schedule();
          }
        },
        onError: (e) => {
          if (cache === this.cache) this.onError(e);
        },
      },
    );
    return cache;
  }

  private swap(cache: PageCache<Track>, q: string, sort: string | null): void {
    // The old cache is not disposed: a queue may still read on through it.
    const changedList = q !== this.query || sort !== this.appliedSort || this.cache.total === null;
    this.appliedSort = sort;
    this.cache = cache;
    this.query = q;
    this.version++;
    if (changedList) this.scroller.scrollTop = 0;
    this.body.parentElement?.setAttribute('aria-rowcount', String((cache.total ?? 0) + 1));
    this.render();
    this.onStatus({ total: cache.total ?? 0, query: q, whole: cache.whole });
  }

  private visibleRows(): number {
    return Math.ceil((this.scroller.clientHeight || 800) / ROW_HEIGHT) + OVERSCAN * 2;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    if (this.scroller.hidden) return;
    const cache = this.cache;
    const head = this.body.parentElement?.querySelector('thead');
    const w = rowWindow({
      scrollTop: this.scroller.scrollTop,
      viewport: this.scroller.clientHeight || 800,
      bodyTop: head ? (head as HTMLElement).offsetHeight : 0,
      rowHeight: ROW_HEIGHT,
      total: cache.total ?? 0,
      overscan: OVERSCAN,
    });
    if (cache.total !== null && w.end > w.start) void cache.ensure(w.start, w.end);
    if (w.start === this.shown.start && w.end === this.shown.end && this.version === this.shown.version) return;
    this.shown = { start: w.start, end: w.end, version: this.version };
    // Rows that stay are left in place (a focused or pressed title button survives a
    // scroll or a page arriving); only rows that leave or change are replaced.
    for (const [i, r] of this.rendered) {
      if (i < w.start || i >= w.end || r.cache !== cache || r.track !== cache.get(i)) {
        r.row.remove();
        this.rendered.delete(i);
      }
    }
    const body = this.body;
    for (const child of [...body.children]) if (!this.isOurs(child)) child.remove();
    let prev: Element | null = null;
    const place = (el: Element) => {
      const at: Element | null = prev ? prev.nextElementSibling : body.firstElementChild;
      if (el !== at) body.insertBefore(el, at);
      prev = el;
    };
    if (w.padTop > 0) {
      setHeight(this.topSpacer, w.padTop);
      place(this.topSpacer);
    } else this.topSpacer.remove();
    for (let i = w.start; i < w.end; i++) {
      let r = this.rendered.get(i);
      if (!r) {
        r = { row: this.row(cache, i), track: cache.get(i), cache };
        this.rendered.set(i, r);
      }
      place(r.row);
    }
    if (w.padBottom > 0) {
      setHeight(this.bottomSpacer, w.padBottom);
      place(this.bottomSpacer);
    } else this.bottomSpacer.remove();
  }

  private isOurs(el: Element): boolean {
    if (el === this.topSpacer || el === this.bottomSpacer) return true;
    for (const r of this.rendered.values()) if (r.row === el) return true;
    return false;
  }

  private row(cache: PageCache<Track>, i: number): HTMLTableRowElement {
    const t = cache.get(i);
    if (!t) {
      return h('tr', { class: 'loading', 'aria-hidden': 'true' }, h('td', { class: 'col-n' }, String(i + 1)), h('td', { colspan: '4' }, h('span', { class: 'skeleton' })));
    }
    const reason = unplayableReason(t);
    const button = h('button', { type: 'button', class: 'track-title', title: t.error && !t.missing ? (reason ?? '') : `Play ${t.title}` }, t.title || 'Untitled');
    button.addEventListener('click', () => this.onPlay(cache, i));
    const row = h(
      'tr',
      { 'data-id': String(t.id), 'aria-rowindex': String(i + 2) },
      h('td', { class: 'col-n' }, String(i + 1)),
      h('td', {}, button),
      h('td', { class: 'dim' }, t.artist ?? ''),
      h('td', { class: 'dim' }, t.album ?? ''),
      h('td', { class: 'col-time dim' }, t.duration_s && t.duration_s > 0 ? formatTime(t.duration_s) : '–'),
    );
    if (t.missing) {
      row.classList.add('missing');
      row.title = reason ?? 'File missing';
      button.title = row.title;
    } else if (t.error) {
      row.classList.add('unplayable');
    }
    row.addEventListener('dblclick', () => this.onPlay(cache, i));
    row.addEventListener('contextmenu', (e) => {
      if (!this.onMenu) return;
      e.preventDefault();
      const r = button.getBoundingClientRect();
      const keyboard = e.clientX === 0 && e.clientY === 0;
      this.onMenu(t, keyboard ? r.left : e.clientX, keyboard ? r.bottom : e.clientY, button);
    });
    this.markRow(row);
    return row;
  }

  private markRow(row: HTMLTableRowElement): void {
    const on = this.currentId !== null && row.dataset.id === String(this.currentId);
    row.classList.toggle('current', on);
    row.classList.toggle('failed', on && this.currentFailed);
    if (on) row.setAttribute('aria-current', 'true');
    else row.removeAttribute('aria-current');
  }

  private renderHeaders(): void {
    for (const th of this.headers) th.setAttribute('aria-sort', sortOrder(this.sort, th.dataset.sort!));
  }
}

function spacer(height: number): HTMLTableRowElement {
  const row = h('tr', { class: 'spacer', 'aria-hidden': 'true' }, h('td', { colspan: '5' }));
  setHeight(row, height);
  return row;
}

function setHeight(spacerRow: HTMLTableRowElement, height: number): void {
  (spacerRow.firstElementChild as HTMLElement).style.height = `${height}px`;
}
