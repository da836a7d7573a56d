/**
 * The library: which view shows (Songs, Albums, Artists, an album, an artist),
 * the search box, and the sidebar. main.ts hands it the page's elements and
 * how to play; it hands back the list a track was started from (a queue source).
 */
import type { Bridge, LibraryId, TrackId } from '../bridge';
import { $ } from '../ui/dom';
import { AlbumGrid } from './albumGrid';
import { AlbumPage, type QueueActions } from './albumPage';
import { ArtistPage, ArtistsView } from './artistsView';
import { FoldersView } from './foldersView';
import { groupDigits, plural } from './format';
import type { TrackSource } from './queue';
import { isSearchShortcut } from './search';
import { ScanPoller, Sidebar, type ViewName } from './sidebar';
import { SongsView, type SongsStatus } from './songsView';

type Page = ViewName | 'album' | 'artist';

export interface LibraryHooks {
  /** Play `index` of `source`, then on through it. */
  play(source: TrackSource, index: number): void;
  /** Say something in the page's alert (null: clear). */
  message(text: string | null): void;
  /** Queue actions (the player core's `play_next` / `append`) and the track menu. */
  queue?: QueueActions;
  /** The songs list was (re)loaded. */
  loaded?(status: SongsStatus): void;
}

export class Library {
  readonly songs: SongsView;
  readonly albums: AlbumGrid;
  readonly album: AlbumPage;
  readonly artists: ArtistsView;
  readonly artist: ArtistPage;
  readonly folders: FoldersView;
  readonly sidebar: Sidebar;
  private readonly poller: ScanPoller;
  private readonly sections: Record<Page, HTMLElement>;
  private readonly searchBox: HTMLInputElement;
  private page: Page = 'songs';
  /** The list view the search applies to (a detail page goes back to it). */
  private base: ViewName = 'songs';
  /** Where the album page's Back goes. */
  private albumFrom: Page = 'albums';
  private libraryAvailable = false;
  private everLoaded = false;

  constructor(
    private readonly bridge: Bridge,
    private readonly hooks: LibraryHooks,
  ) {
    const err = (e: unknown) => hooks.message(`The library could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
    this.sections = {
      songs: $('view-songs'),
      albums: $('view-albums'),
      album: $('view-album'),
      artists: $('view-artists'),
      artist: $('view-artist'),
      folders: $('view-folders'),
    };
    this.searchBox = $('search') as HTMLInputElement;
    this.songs = new SongsView(
      this.sections.songs,
      $('track-list') as HTMLTableSectionElement,
      $('songs-head'),
      bridge,
      (source, index) => hooks.play(source, index),
      (s) => this.songsLoaded(s),
      err,
      hooks.queue ? (t, x, y, from) => hooks.queue!.menu([t.id], x, y, from) : undefined,
    );
    this.albums = new AlbumGrid(this.sections.albums, $('album-grid'), bridge, (id) => void this.openAlbum(id, 'albums'), err, (total, q) => {
      $('albums-none').hidden = total > 0;
      $('albums-none').textContent = q ? `No album matches “${q}”.` : 'No albums yet.';
    });
    this.album = new AlbumPage(this.sections.album, bridge, (source, index) => hooks.play(source, index), () => this.back(), err, hooks.queue);
    this.artists = new ArtistsView(this.sections.artists, bridge, (name) => void this.openArtist(name), err);
    this.artist = new ArtistPage(this.sections.artist, bridge, (id) => void this.openAlbum(id, 'artist'), () => this.show('artists'), err);
    // The path field only inside the desktop shell (a browser page has no business typing server paths).
    const desktop = (window as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__ !== undefined;
    this.folders = new FoldersView(
      this.sections.folders,
      bridge,
      desktop,
      () => {
        this.poller.poke();
        void this.reload();
      },
      err,
    );
    this.sidebar = new Sidebar(
      $('views'),
      { box: $('scan'), label: $('scan-label'), bar: $('scan-bar'), fill: $('scan-fill'), text: $('scan-text') },
      (v) => this.show(v),
    );
    this.sidebar.setActive('songs');
    this.sidebar.setLibraryAvailable(false);
    this.poller = new ScanPoller(bridge, (s) => this.sidebar.showScan(s), { onLibraryChanged: () => void this.reload() });

    this.searchBox.addEventListener('input', () => this.onSearch(false));
    this.searchBox.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.onSearch(true);
      else if (e.key === 'Escape') {
        if (this.searchBox.value) {
          this.searchBox.value = '';
          this.onSearch(true);
        } else this.searchBox.blur();
        e.preventDefault();
      }
    });
    document.addEventListener('keydown', (e) => {
      if (e.defaultPrevented) return;
      const t = e.target as HTMLElement | null;
      const typing = !!t && (t.tagName === 'TEXTAREA' || t.isContentEditable || (t.tagName === 'INPUT' && !['range', 'checkbox', 'radio', 'button'].includes((t as HTMLInputElement).type)));
      if (isSearchShortcut(e, typing) && !this.searchBox.hidden && this.searchBox.isConnected) {
        e.preventDefault();
        this.searchBox.focus();
        this.searchBox.select();
      }
    });
  }

  /** The first list load. */
  start(): Promise<void> {
    return this.songs.reload();
  }

  /** A folder was added or removed elsewhere (the desktop's Add folder… dialog): follow
   * its scan and list again. */
  foldersChanged(): void {
    this.poller.poke();
    void this.reload();
    if (this.folders.loaded) void this.folders.reload();
  }

  /** The library changed (a scan, files opened): list again; what plays goes on. */
  async reload(): Promise<void> {
    const jobs: Promise<void>[] = [this.songs.reload()];
    if (this.albums.loaded) jobs.push(this.albums.reload());
    if (this.artists.loaded) jobs.push(this.artists.reload());
    await Promise.all(jobs);
  }

  /** What the Play button starts with nothing loaded: the list in view, from its top. */
  firstSource(): { source: TrackSource; index: number } {
    if (this.page === 'album' && this.album.tracks) return { source: this.album.tracks, index: 0 };
    return { source: this.songs.source, index: 0 };
  }

  /** Ids of the current songs view in order (for a queue). */
  ids(): Promise<TrackId[]> {
    return this.songs.ids();
  }

  setCurrent(id: TrackId | null, failed = false): void {
    this.songs.setCurrent(id, failed);
    this.album.setCurrent(id, failed);
  }

  show(view: Page): void {
    this.page = view;
    for (const [name, el] of Object.entries(this.sections)) el.hidden = name !== view;
    if (view === 'songs' || view === 'albums' || view === 'artists') this.base = view;
    this.sidebar.setActive(view === 'album' ? (this.albumFrom === 'artist' ? 'artists' : (this.albumFrom as ViewName)) : view === 'artist' ? 'artists' : view);
    this.updateEmpty();
    const q = this.searchBox.value;
    if (view === 'songs') {
      if (this.songs.appliedQuery !== q) void this.songs.setQuery(q);
      else this.songs.refresh();
    } else if (view === 'albums') {
      if (!this.albums.loaded || this.albums.appliedQuery !== q) void this.albums.setQuery(q);
      else this.albums.refresh();
    } else if (view === 'artists') {
      this.artists.setQuery(q);
      if (!this.artists.loaded) void this.artists.reload();
    } else if (view === 'folders') {
      void this.folders.reload();
    }
  }

  async openAlbum(id: LibraryId, from: Page): Promise<void> {
    this.albumFrom = from;
    this.show('album');
    await this.album.show(id, from === 'artist' ? (this.artist.name ?? 'Artist') : from === 'songs' ? 'Songs' : 'Albums');
  }

  async openArtist(name: string): Promise<void> {
    this.show('artist');
    await this.artist.show(name);
  }

  private back(): void {
    this.show(this.albumFrom);
  }

  private onSearch(now: boolean): void {
    const q = this.searchBox.value;
    if (this.page !== this.base) this.show(this.base);
    if (this.base === 'songs') {
      if (now) void this.songs.setQuery(q);
      else this.songs.input(q);
    } else if (this.base === 'albums') {
      if (now) void this.albums.setQuery(q);
      else this.albums.input(q);
    } else {
      this.artists.setQuery(q);
    }
  }

  private songsLoaded(s: SongsStatus): void {
    // A server that pages has the library; an older one sent the whole list and has none.
    const available = !s.whole;
    if (available !== this.libraryAvailable) {
      this.libraryAvailable = available;
      this.sidebar.setLibraryAvailable(available);
      this.searchBox.hidden = !available;
      if (available) this.poller.start();
      else this.poller.stop();
    }
    if (!s.query) this.libraryTotal = s.total;
    $('track-count').textContent = s.query && this.libraryTotal !== null ? `${groupDigits(s.total)} of ${plural(this.libraryTotal, 'track')}` : plural(s.total, 'track');
    this.everLoaded = true;
    this.lastStatus = s;
    this.updateEmpty();
    this.hooks.loaded?.(s);
  }

  private lastStatus: SongsStatus | null = null;
  private libraryTotal: number | null = null;

  private updateEmpty(): void {
    const s = this.lastStatus;
    const songs = this.page === 'songs' && this.everLoaded && s !== null;
    $('empty').hidden = !(songs && s.total === 0 && !s.query);
    const none = $('no-match');
    none.hidden = !(songs && s.total === 0 && !!s.query);
    if (!none.hidden) none.textContent = `No track matches “${s!.query}”.`;
  }
}
