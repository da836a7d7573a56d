import type { Track, TrackId } from '../bridge';
import { formatTime } from '../format';
import { h } from './dom';

/** The library table: one row per track; clicking a title button plays it. */
export class TrackList {
  private rows = new Map<string, HTMLTableRowElement>();
  private tracks: Track[] = [];

  constructor(
    private readonly body: HTMLElement,
    private readonly onPlay: (id: TrackId) => void,
  ) {}

  render(tracks: Track[]): void {
    this.tracks = tracks;
    this.rows.clear();
    this.body.replaceChildren();
    tracks.forEach((t, i) => {
      const hint = t.error ? `Cannot be played: ${t.error}` : `Play ${t.title}`;
      const button = h('button', { type: 'button', class: 'track-title', title: hint }, t.title || 'Untitled');
      button.addEventListener('click', () => this.onPlay(t.id));
      const row = h(
        'tr',
        { 'data-id': String(t.id) },
        h('td', { class: 'col-n' }, String(i + 1)),
        h('td', {}, button),
        h('td', { class: 'dim' }, t.artist ?? ''),
        h('td', { class: 'dim' }, t.album ?? ''),
        h('td', { class: 'col-time dim' }, t.duration_s && t.duration_s > 0 ? formatTime(t.duration_s) : '–'),
      );
      if (t.error) row.classList.add('unplayable');
      row.addEventListener('dblclick', () => this.onPlay(t.id));
      this.rows.set(String(t.id), row);
      this.body.append(row);
    });
  }

  setCurrent(id: TrackId | null, failed = false): void {
    for (const [key, row] of this.rows) {
      const on = id !== null && key === String(id);
      row.classList.toggle('current', on);
      row.classList.toggle('failed', on && failed);
      if (on) row.setAttribute('aria-current', 'true');
      else row.removeAttribute('aria-current');
    }
  }

  /** The track after `id` in list order, if any. */
  next(id: TrackId | null): Track | undefined {
    const i = this.tracks.findIndex((t) => String(t.id) === String(id));
    return i >= 0 ? this.tracks[i + 1] : this.tracks[0];
  }

  first(): Track | undefined {
    return this.tracks[0];
  }
}
