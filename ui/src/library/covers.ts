/** Cover art: an <img> from the API, or a placeholder when there is none or it fails to load. */
import type { Bridge, TrackId } from '../bridge';
import { h } from '../ui/dom';

/** A cover for `trackId` (null: none known), `size` px, lazy-loaded. */
export function coverElement(bridge: Bridge, trackId: TrackId | null | undefined, size: number, cls = 'cover'): HTMLElement {
  if (trackId === null || trackId === undefined) return placeholder(cls);
  const img = h('img', { class: cls, alt: '', loading: 'lazy', decoding: 'async', width: String(size), height: String(size), draggable: 'false' });
  img.addEventListener('error', () => img.replaceWith(placeholder(cls)), { once: true });
  img.src = bridge.coverUrl(trackId, size);
  return img;
}

export function placeholder(cls = 'cover'): HTMLElement {
  return h('div', { class: `${cls} cover-placeholder`, 'aria-hidden': 'true' });
}

/**
 * The now-playing cover: one <img> whose source follows the track; a placeholder
 * class while there is none (or it failed).
 */
export class NowCover {
  private id: string | null = null;

  constructor(
    private readonly img: HTMLImageElement,
    private readonly bridge: Bridge,
    private readonly size = 96,
  ) {
    img.addEventListener('error', () => this.none());
    img.addEventListener('load', () => img.classList.remove('cover-placeholder'));
    this.none();
  }

  /** The track that plays and whether it has a cover (unknown: no request is made). */
  show(trackId: TrackId | null, hasCover: boolean | undefined): void {
    const key = trackId === null || !hasCover ? null : String(trackId);
    if (key === this.id) return;
    this.id = key;
    if (key === null) this.none();
    else this.img.src = this.bridge.coverUrl(key, this.size);
  }

  private none(): void {
    this.img.removeAttribute('src');
    this.img.classList.add('cover-placeholder');
  }
}
