/**
 * Artists: the list (name, album and track counts), filtered as you type; an
 * artist's page shows their albums (made up from their tracks, `?artist=NAME`).
 */
import type { Artist, Bridge, LibraryId, Track } from '../bridge';
import { h } from '../ui/dom';
import { albumCard, type AlbumCardData } from './albumGrid';
import { plural } from './format';

/** Lower case without accents: "Beyoncé" matches "beyonce". */
export function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Artists whose name has a word starting with `q` (case and accent-insensitive). */
export function filterArtists(list: readonly Artist[], q: string): Artist[] {
  const needle = fold(q.trim());
  if (!needle) return list.slice();
  return list.filter((a) => {
    const name = fold(a.name);
    return name.startsWith(needle) || name.split(/[\s\-–—/&,.(]+/).some((w) => w.startsWith(needle));
  });
}

/** An artist's albums from their tracks: one per album, in first-seen order, a track with a cover for its cover. */
export function albumsOfTracks(tracks: readonly Track[]): AlbumCardData[] {
  const byId = new Map<string, AlbumCardData>();
  for (const t of tracks) {
    if (t.album_id === null || t.album_id === undefined) continue;
    const key = String(t.album_id);
    let a = byId.get(key);
    if (!a) {
      a = { id: t.album_id, title: t.album ?? '', album_artist: t.album_artist ?? t.artist ?? null, year: t.year ?? null, cover_track_id: null };
      byId.set(key, a);
    }
    if (a.cover_track_id === null && t.has_cover) a.cover_track_id = t.id;
  }
  return [...byId.values()];
}

export class ArtistsView {
  private artists: Artist[] | null = null;
  private query = '';
  private controller: AbortController | null = null;
  private epoch = 0;

  constructor(
    private readonly el: HTMLElement,
    private readonly bridge: Bridge,
    private readonly onOpenArtist: (name: string) => void,
    private readonly onError: (e: unknown) => void,
  ) {}

  get loaded(): boolean {
    return this.artists !== null;
  }

  async reload(): Promise<void> {
    const epoch = ++this.epoch;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    try {
      const list = await this.bridge.artists(controller.signal);
      if (epoch !== this.epoch) return;
      this.artists = list;
      this.render();
    } catch (e) {
      if (epoch === this.epoch && !controller.signal.aborted) {
        this.el.replaceChildren(h('p', { class: 'dim empty' }, 'The artists could not be loaded.'));
        this.onError(e);
      }
    }
  }

  setQuery(q: string): void {
    this.query = q;
    if (this.artists) this.render();
  }

  private render(): void {
    const list = filterArtists(this.artists ?? [], this.query);
    if (list.length === 0) {
      this.el.replaceChildren(h('p', { class: 'dim empty' }, this.query ? `No artist matches “${this.query}”.` : 'No artists yet.'));
      return;
    }
    const ul = h('ul', { class: 'artist-list' });
    for (const a of list) {
      const b = h('button', { type: 'button', class: 'artist' }, h('span', { class: 'artist-name' }, a.name || 'Unknown artist'), h('span', { class: 'artist-sub dim' }, `${plural(a.album_count, 'album')} · ${plural(a.track_count, 'track')}`));
      b.addEventListener('click', () => this.onOpenArtist(a.name));
      ul.append(h('li', {}, b));
    }
    this.el.replaceChildren(ul);
  }
}

/** One artist's page: their albums as cards. */
export class ArtistPage {
  private epoch = 0;
  private controller: AbortController | null = null;
  name: string | null = null;

  constructor(
    private readonly el: HTMLElement,
    private readonly bridge: Bridge,
    private readonly onOpenAlbum: (id: LibraryId) => void,
    private readonly onBack: () => void,
    private readonly onError: (e: unknown) => void,
  ) {}

  async show(name: string): Promise<void> {
    const epoch = ++this.epoch;
    this.name = name;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const back = h('button', { type: 'button', class: 'back' }, '‹ Artists');
    back.addEventListener('click', () => this.onBack());
    const title = h('h2', { class: 'page-title' }, name || 'Unknown artist');
    this.el.replaceChildren(back, title, h('p', { class: 'dim loading-text' }, 'Loading…'));
    try {
      const page = await this.bridge.trackPage({ artist: name, sort: 'album', limit: 2000, offset: 0 }, controller.signal);
      if (epoch !== this.epoch) return;
      const albums = albumsOfTracks(page.items);
      const grid = h('div', { class: 'album-grid static' });
      for (const a of albums) grid.append(albumCard(this.bridge, a, this.onOpenAlbum));
      const sub = h('p', { class: 'dim' }, `${plural(albums.length, 'album')} · ${plural(page.total, 'track')}`);
      this.el.replaceChildren(back, title, sub, grid);
    } catch (e) {
      if (epoch === this.epoch && !controller.signal.aborted) {
        this.el.replaceChildren(back, title, h('p', { class: 'dim' }, 'This artist’s albums could not be loaded.'));
        this.onError(e);
      }
    }
  }
}
