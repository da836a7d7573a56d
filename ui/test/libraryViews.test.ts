// @vitest-environment happy-dom
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Album, AlbumDetail, Bridge, ListQuery, Page, Track, TrackQuery } from '../src/bridge';
import type { TrackSource } from '../src/library/queue';
import { Library } from '../src/library/views';

const html = readFileSync(join(__dirname, '../index.html'), 'utf8');
const body = html.slice(html.indexOf('<body>') + 6, html.indexOf('</body>'));

const TRACKS: Track[] = [
  { id: 'a1', title: 'Pray You Catch Me', artist: 'Beyoncé', album: 'Lemonade', album_id: 1, track_no: 1, duration_s: 20, has_cover: true },
  { id: 'a2', title: 'Hold Up', artist: 'Beyoncé', album: 'Lemonade', album_id: 1, track_no: 2, duration_s: 20 },
  { id: 'b1', title: 'Blue Train', artist: 'John Coltrane', album: 'Blue Train', album_id: 2, track_no: 1, duration_s: 20 },
];
const ALBUMS: Album[] = [
  { id: 1, title: 'Lemonade', album_artist: 'Beyoncé', year: 2016, track_count: 2, duration_s: 40, cover_track_id: 'a1' },
  { id: 2, title: 'Blue Train', album_artist: 'John Coltrane', year: 1957, track_count: 1, duration_s: 20, cover_track_id: null },
];

function setup(opts: { paging?: boolean; tracks?: Track[] } = {}) {
  document.body.innerHTML = body;
  const tracks = opts.tracks ?? TRACKS;
  const calls: string[] = [];
  let folders = [
    { id: 1, path: '/music/a', track_count: 2 },
    { id: 2, path: '/music/b', track_count: 1 },
  ];
  const fold = (s: string | null | undefined) => (s ?? '').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
  const page = <T>(items: T[], q: ListQuery): Page<T> =>
    opts.paging === false ? { items, total: items.length, whole: true } : { items: items.slice(q.offset ?? 0, (q.offset ?? 0) + (q.limit ?? items.length)), total: items.length, whole: false };
  const bridge = {
    trackPage: async (q: TrackQuery) => {
      calls.push(`tracks q=${q.q ?? ''}`);
      const list = q.q && opts.paging !== false ? tracks.filter((t) => fold(t.artist).startsWith(fold(q.q)) || fold(t.title).startsWith(fold(q.q))) : tracks;
      return page(list, q);
    },
    albumPage: async (q: ListQuery) => {
      calls.push(`albums q=${q.q ?? ''}`);
      return page(q.q ? ALBUMS.filter((a) => fold(a.title).startsWith(fold(q.q))) : ALBUMS, q);
    },
    album: async (id: number): Promise<AlbumDetail> => ({ ...ALBUMS[id - 1]!, tracks: tracks.filter((t) => t.album_id === id) }),
    artists: async () => [],
    folders: async () => folders.slice(),
    removeFolder: async (id: number) => {
      calls.push(`remove ${id}`);
      folders = folders.filter((f) => f.id !== id);
    },
    scanStatus: async () => {
      calls.push('scan');
      return { running: false, done: 0, total: 0, files_per_s: 0 };
    },
    coverUrl: (id: string, size: number) => `http://h/api/covers/${id}?size=${size}`,
  } as unknown as Bridge;
  const played: { source: TrackSource; index: number }[] = [];
  const messages: (string | null)[] = [];
  const lib = new Library(bridge, { play: (source, index) => played.push({ source, index }), message: (m) => messages.push(m) });
  const $ = (id: string) => document.getElementById(id)!;
  const rows = (root = '#track-list') => [...document.querySelectorAll<HTMLTableRowElement>(`${root} tr[data-id]`)].map((r) => r.querySelector('button')!.textContent);
  return { lib, calls, played, messages, $, rows };
}

describe('library views (DOM)', () => {
  it('lists the songs, counts them, offers the library views and polls the scan', async () => {
    const { lib, $, rows, calls } = setup();
    await lib.start();
    expect(rows()).toEqual(['Pray You Catch Me', 'Hold Up', 'Blue Train']);
    expect($('track-count').textContent).toBe('3 tracks');
    expect($('empty').hidden).toBe(true);
    expect(($('search') as HTMLInputElement).hidden).toBe(false);
    expect([...document.querySelectorAll<HTMLButtonElement>('#views button')].filter((b) => !b.hidden).map((b) => b.textContent)).toEqual(['Songs', 'Albums', 'Artists', 'Folders']);
    await vi.waitFor(() => expect(calls).toContain('scan'));
  });

  it('keeps the old page with a server that does not page: songs only, no search, no scan', async () => {
    const { lib, $, rows, calls } = setup({ paging: false });
    await lib.start();
    expect(rows()).toHaveLength(3);
    expect(($('search') as HTMLInputElement).hidden).toBe(true);
    expect([...document.querySelectorAll<HTMLButtonElement>('#views button')].filter((b) => !b.hidden).map((b) => b.textContent)).toEqual(['Songs']);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).not.toContain('scan');
  });

  it('shows #empty for an empty library', async () => {
    const { lib, $ } = setup({ tracks: [] });
    await lib.start();
    expect($('empty').hidden).toBe(false);
    expect($('track-count').textContent).toBe('0 tracks');
  });

  it('/ focuses the search box (not while typing), typing filters after the debounce', async () => {
    const { lib, $, rows, calls } = setup();
    await lib.start();
    const search = $('search') as HTMLInputElement;
    document.body.dispatchEvent(new KeyboardEvent('keydown', { key: '/', bubbles: true, cancelable: true }));
    expect(document.activeElement).toBe(search);
    const typed = new KeyboardEvent('keydown', { key: '/', bubbles: true, cancelable: true });
    search.dispatchEvent(typed);
    expect(typed.defaultPrevented).toBe(false);
    search.value = 'beyon';
    search.dispatchEvent(new Event('input'));
    expect(calls.filter((c) => c === 'tracks q=beyon')).toHaveLength(0);
    await vi.waitFor(() => expect(rows()).toEqual(['Pray You Catch Me', 'Hold Up']));
    expect($('track-count').textContent).toBe('2 of 3 tracks');
    search.value = 'zzz';
    search.dispatchEvent(new Event('input'));
    await vi.waitFor(() => expect($('no-match').hidden).toBe(false));
    expect($('empty').hidden).toBe(true);
  });

  it('opens an album from the grid; its page lists the tracks in order and Play album plays from the first', async () => {
    const { lib, $, played, rows } = setup();
    await lib.start();
    (document.querySelector('#views button[data-view=albums]') as HTMLButtonElement).click();
    expect($('view-albums').hidden).toBe(false);
    expect($('view-songs').hidden).toBe(true);
    await vi.waitFor(() => expect(document.querySelectorAll('#album-grid .album-card[data-album-id]')).toHaveLength(2));
    const card = document.querySelector<HTMLButtonElement>('#album-grid .album-card[data-album-id="1"]')!;
    expect(card.querySelector('img')!.getAttribute('src')).toBe('http://h/api/covers/a1?size=200');
    expect(document.querySelector('#album-grid .album-card[data-album-id="2"] .cover-placeholder')).not.toBeNull();
    card.click();
    await vi.waitFor(() => expect(rows('#view-album')).toEqual(['Pray You Catch Me', 'Hold Up']));
    expect(document.querySelector('#view-album h2')!.textContent).toBe('Lemonade');
    const play = [...document.querySelectorAll<HTMLButtonElement>('#view-album button')].find((b) => b.getAttribute('aria-label') === 'Play album')!;
    play.click();
    expect(played).toHaveLength(1);
    expect(played[0]!.index).toBe(0);
    expect((await played[0]!.source.at(1))?.title).toBe('Hold Up');
    // Back goes to the albums.
    (document.querySelector('#view-album .back') as HTMLButtonElement).click();
    expect($('view-albums').hidden).toBe(false);
  });

  it('lists the library folders and removes one; no path field in a browser', async () => {
    const { lib, calls } = setup();
    await lib.start();
    (document.querySelector('#views button[data-view=folders]') as HTMLButtonElement).click();
    await vi.waitFor(() => expect(document.querySelectorAll('#view-folders .folder')).toHaveLength(2));
    expect(document.querySelector('#view-folders input')).toBeNull();
    (document.querySelector('#view-folders button[aria-label="Remove /music/a"]') as HTMLButtonElement).click();
    await vi.waitFor(() => expect(document.querySelectorAll('#view-folders .folder')).toHaveLength(1));
    expect(calls).toContain('remove 1');
  });
});
