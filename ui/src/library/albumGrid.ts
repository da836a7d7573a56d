/**
 * Albums: a virtualised grid of cards (cover, title, album artist, year), paged
 * as the user scrolls, searchable (`q=` on albums). Rows of cards use the same
 * windowing as the songs table.
 */
import type { Album, Bridge, LibraryId, TrackId } from '../bridge';
import { h } from '../ui/dom';
import { coverElement } from './covers';
import { PageCache } from './pages';
import { LatestSearch } from './search';
import { rowWindow } from './virtualList';

export const CARD_WIDTH = 180;
export const CARD_HEIGHT = 246;
const GAP = 16;

/** What a card shows (an album, or an album made up from an artist's tracks). */
export interface AlbumCardData {
  id: LibraryId;
  title: string;
  album_artist: string | null;
  year: number | null;
  cover_track_id: TrackId | null;
}

export function albumCard(bridge: Bridge, a: AlbumCardData, onOpen: (id: LibraryId) => void): HTMLElement {
  const sub = [a.album_artist, a.year ? String(a.year) : null].filter(Boolean).join(' · ');
  const card = h(
    'button',
    { type: 'button', class: 'album-card', 'data-album-id': String(a.id), title: [a.title || 'Unknown album', sub].filter(Boolean).join(' — ') },
    coverElement(bridge, a.cover_track_id, 200, 'cover album-cover'),
    h('span', { class: 'album-title' }, a.title || 'Unknown album'),
    h('span', { class: 'album-sub' }, sub),
  );
  card.addEventListener('click', () => onOpen(a.id));
  return card;
}

export class AlbumGrid {
  private cache: PageCache<Album>;
  private readonly search: LatestSearch<PageCache<Album>>;
  private query = '';
  /** The text typed last (its search may still be waiting for the debounce). */
  private wanted = '';
  private frame = 0;
  private shown = '';
  private version = 0;
  loaded = false;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly grid: HTMLElement,
    private readonly bridge: Bridge,
    private readonly onOpen: (id: LibraryId) => void,
    private readonly onError: (e: unknown) => void,
    private readonly onStatus: (total: number, query: string) => void,
  ) {
    this.cache = this.makeCache('');
    this.search = new LatestSearch(
      async (q, signal) => {
        const cache = this.makeCache(q);
        signal.addEventListener('abort', () => cache.dispose());
        await cache.ensure(0, this.columns() * 6);
        if (cache.total === null) throw new Error('The albums could not be loaded.');
        return cache;
      },
      (cache, q) => {
        this.cache.dispose();
        this.cache = cache;
        if (q !== this.query) this.scroller.scrollTop = 0;
        this.query = q;
        this.loaded = true;
        this.version++;
        this.render();
        this.onStatus(cache.total ?? 0, q);
      },
      { onError: (e) => this.onError(e) },
    );
    scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.schedule()).observe(scroller);
  }

  get appliedQuery(): string | null {
    return this.search.applied;
  }

  input(q: string): void {
    this.wanted = q;
    this.search.input(q);
  }

  setQuery(q: string): Promise<void> {
    this.wanted = q;
    return this.search.now(q);
  }

  reload(): Promise<void> {
    return this.search.now(this.wanted);
  }

  refresh(): void {
    this.shown = '';
    this.render();
  }

  private makeCache(q: string): PageCache<Album> {
    const cache: PageCache<Album> = new PageCache<Album>((offset, limit, signal) => this.bridge.albumPage({ q, offset, limit }, signal), {
      pageSize: 100,
      maxPages: 20,
      onChange: () => {
        if (cache === this.cache) {
          this.version++;
          this.schedule();
        }
      },
      onError: (e) => {
        if (cache === this.cache) this.onError(e);
      },
    });
    return cache;
  }

  private columns(): number {
    const width = this.grid.clientWidth || this.scroller.clientWidth || 900;
    return Math.max(1, Math.floor((width + GAP) / (CARD_WIDTH + GAP)));
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
    const cols = this.columns();
    const total = this.cache.total ?? 0;
    const w = rowWindow({
      scrollTop: this.scroller.scrollTop,
      viewport: this.scroller.clientHeight || 800,
      bodyTop: this.grid.offsetTop,
      rowHeight: CARD_HEIGHT + GAP,
      total: Math.ceil(total / cols),
      overscan: 2,
    });
    const first = w.start * cols;
    const last = Math.min(total, w.end * cols);
    if (last > first) void this.cache.ensure(first, last);
    const key = `${first}:${last}:${cols}:${this.version}`;
    if (key === this.shown) return;
    this.shown = key;
    this.grid.style.paddingTop = `${w.padTop}px`;
    this.grid.style.paddingBottom = `${w.padBottom}px`;
    const cards: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const a = this.cache.get(i);
      cards.push(a ? albumCard(this.bridge, a, this.onOpen) : h('div', { class: 'album-card loading', 'aria-hidden': 'true' }));
    }
    this.grid.replaceChildren(...cards);
  }
}
