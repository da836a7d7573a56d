/**
 * One album: big cover, title, artist, year, track count and length, its tracks
 * in disc/track order, and a Play button (the album from its first track, then on
 * through the album).
 */
import type { AlbumDetail, Bridge, LibraryId, Track, TrackId } from '../bridge';
import { formatTime } from '../format';
import { h } from '../ui/dom';
import { coverElement } from './covers';
import { albumSummary, unplayableReason } from './format';
import { arraySource, type TrackSource } from './queue';

export interface QueueActions {
  enqueue(ids: TrackId[], how: 'next' | 'end'): void;
  /** The queue menu for these tracks, at (x, y); `from` gets the focus back. */
  menu(ids: TrackId[], x: number, y: number, from: HTMLElement): void;
}

export class AlbumPage {
  private epoch = 0;
  private controller: AbortController | null = null;
  private album: AlbumDetail | null = null;
  private source: TrackSource | null = null;
  private currentId: TrackId | null = null;
  private currentFailed = false;

  constructor(
    private readonly el: HTMLElement,
    private readonly bridge: Bridge,
    private readonly onPlay: (source: TrackSource, index: number) => void,
    private readonly onBack: () => void,
    private readonly onError: (e: unknown) => void,
    /** Queue actions: the album after the current track or at the end; a row's menu. */
    private readonly queue?: QueueActions,
  ) {}

  get id(): LibraryId | null {
    return this.album?.id ?? null;
  }

  /** The album's tracks in order (for a queue), once it is shown. */
  get tracks(): TrackSource | null {
    return this.source;
  }

  async show(id: LibraryId, backLabel: string): Promise<void> {
    const epoch = ++this.epoch;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.el.replaceChildren(this.backButton(backLabel), h('p', { class: 'dim loading-text' }, 'Loading…'));
    let album: AlbumDetail;
    try {
      album = await this.bridge.album(id, controller.signal);
    } catch (e) {
      if (epoch === this.epoch && !controller.signal.aborted) {
        this.el.replaceChildren(this.backButton(backLabel), h('p', { class: 'dim' }, 'This album could not be loaded.'));
        this.onError(e);
      }
      return;
    }
    if (epoch !== this.epoch) return;
    this.album = album;
    const tracks = album.tracks ?? [];
    this.source = arraySource(tracks);
    this.render(album, tracks, backLabel);
  }

  /** Play the album from its first playable track. */
  play(): void {
    if (!this.album || !this.source) return;
    const i = this.album.tracks.findIndex((t) => !t.missing);
    if (i >= 0) this.onPlay(this.source, i);
  }

  setCurrent(id: TrackId | null, failed = false): void {
    this.currentId = id;
    this.currentFailed = failed;
    for (const row of this.el.querySelectorAll<HTMLTableRowElement>('tr[data-id]')) this.markRow(row);
  }

  private backButton(label: string): HTMLElement {
    const b = h('button', { type: 'button', class: 'back' }, `‹ ${label}`);
    b.addEventListener('click', () => this.onBack());
    return b;
  }

  private render(album: AlbumDetail, tracks: Track[], backLabel: string): void {
    const total = album.duration_s || tracks.reduce((s, t) => s + (t.duration_s ?? 0), 0);
    const count = album.track_count || tracks.length;
    const play = h('button', { type: 'button', class: 'play-album', 'aria-label': 'Play album' }, h('span', { class: 'icon', 'aria-hidden': 'true' }), 'Play');
    play.disabled = !tracks.some((t) => !t.missing);
    play.addEventListener('click', () => this.play());
    const playable = tracks.filter((t) => !t.missing).map((t) => t.id);
    const next = h('button', { type: 'button', class: 'album-queue', title: 'Play the album after the current track' }, 'Play next');
    const end = h('button', { type: 'button', class: 'album-queue', title: 'Add the album to the end of the queue' }, 'Add to queue');
    next.disabled = end.disabled = playable.length === 0 || !this.queue;
    next.addEventListener('click', () => this.queue?.enqueue(playable, 'next'));
    end.addEventListener('click', () => this.queue?.enqueue(playable, 'end'));
    const header = h(
      'div',
      { class: 'album-header' },
      coverElement(this.bridge, album.cover_track_id, 240, 'cover album-big-cover'),
      h(
        'div',
        { class: 'album-info' },
        h('div', { class: 'album-kind dim' }, 'Album'),
        h('h2', { class: 'album-name' }, album.title || 'Unknown album'),
        h('div', { class: 'album-artist' }, album.album_artist ?? ''),
        h('div', { class: 'dim' }, [album.year ? String(album.year) : null, albumSummary(count, total)].filter(Boolean).join(' · ')),
        h('div', { class: 'album-actions' }, play, next, end),
      ),
    );
    const discs = new Set(tracks.map((t) => t.disc_no ?? 1)).size > 1;
    const body = h('tbody', { class: 'album-tracks' });
    tracks.forEach((t, i) => body.append(this.row(t, i, discs)));
    const table = h(
      'table',
      { class: 'tracks album-table' },
      h('caption', { class: 'visually-hidden' }, `Tracks of ${album.title}`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'col-n' }, '#'), h('th', { scope: 'col' }, 'Title'), h('th', { scope: 'col' }, 'Artist'), h('th', { scope: 'col', class: 'col-time' }, 'Time'))),
      body,
    );
    this.el.replaceChildren(this.backButton(backLabel), header, table);
  }

  private row(t: Track, i: number, discs: boolean): HTMLTableRowElement {
    const n = t.track_no ? (discs ? `${t.disc_no ?? 1}.${t.track_no}` : String(t.track_no)) : String(i + 1);
    const reason = unplayableReason(t);
    const button = h('button', { type: 'button', class: 'track-title', title: reason ?? `Play ${t.title}` }, t.title || 'Untitled');
    button.addEventListener('click', () => this.onPlay(this.source!, i));
    const row = h(
      'tr',
      { 'data-id': String(t.id) },
      h('td', { class: 'col-n' }, n),
      h('td', {}, button),
      h('td', { class: 'dim' }, t.artist ?? ''),
      h('td', { class: 'col-time dim' }, t.duration_s && t.duration_s > 0 ? formatTime(t.duration_s) : '–'),
    );
    row.addEventListener('contextmenu', (e) => {
      if (!this.queue) return;
      e.preventDefault();
      const r = button.getBoundingClientRect();
      const keyboard = e.clientX === 0 && e.clientY === 0;
      this.queue.menu([t.id], keyboard ? r.left : e.clientX, keyboard ? r.bottom : e.clientY, button);
    });
    if (t.missing) {
      row.classList.add('missing');
      row.title = reason ?? '';
    } else if (t.error) row.classList.add('unplayable');
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
}
