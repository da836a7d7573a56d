/**
 * The sidebar: Songs, Albums, Artists, and the library scan's progress at the
 * bottom while a scan runs. The scan is polled every 500 ms while it runs and
 * every 5 s otherwise; a server without a library (404) is not asked again.
 */
import type { Bridge, ScanStatus } from '../bridge';
import { scanFraction, scanText } from './format';
import type { Timers } from './search';

export type ViewName = 'songs' | 'albums' | 'artists' | 'folders';

export class Sidebar {
  private readonly items: HTMLButtonElement[];

  constructor(
    nav: HTMLElement,
    private readonly scan: { box: HTMLElement; label: HTMLElement; bar: HTMLElement; fill: HTMLElement; text: HTMLElement },
    onSelect: (view: ViewName) => void,
  ) {
    this.items = [...nav.querySelectorAll<HTMLButtonElement>('button[data-view]')];
    for (const b of this.items) b.addEventListener('click', () => onSelect(b.dataset.view as ViewName));
  }

  setActive(view: ViewName | null): void {
    for (const b of this.items) {
      if (b.dataset.view === view) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
  }

  /** Library features need a server with a library (it pages): without one, only Songs. */
  setLibraryAvailable(on: boolean): void {
    for (const b of this.items) if (b.dataset.view !== 'songs') b.hidden = !on;
  }

  showScan(s: ScanStatus | null): void {
    const running = !!s?.running;
    this.scan.box.hidden = !running;
    if (!s || !running) return;
    const pct = Math.round(scanFraction(s) * 100);
    this.scan.label.textContent = s.phase ? `Scanning · ${s.phase}` : 'Scanning the library';
    this.scan.fill.style.width = `${pct}%`;
    this.scan.bar.setAttribute('aria-valuenow', String(pct));
    this.scan.text.textContent = scanText(s);
    this.scan.box.title = s.current_folder ?? '';
  }
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class ScanPoller {
  private timer: unknown = null;
  private stopped = true;
  private running = false;

  constructor(
    private readonly bridge: Pick<Bridge, 'scanStatus'>,
    private readonly onStatus: (s: ScanStatus | null) => void,
    private readonly opts: {
      timers?: Timers;
      runningMs?: number;
      idleMs?: number;
      /** A scan ended (new tracks may be listed), or is running (every `progressEvery` polls). */
      onLibraryChanged?: () => void;
      progressEvery?: number;
    } = {},
  ) {}

  private polls = 0;

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) (this.opts.timers ?? realTimers).clearTimeout(this.timer);
    this.timer = null;
  }

  /** Ask now (a folder was added). */
  poke(): void {
    if (this.stopped) return;
    if (this.timer !== null) (this.opts.timers ?? realTimers).clearTimeout(this.timer);
    this.timer = null;
    void this.tick();
  }

  private async tick(): Promise<void> {
    let next = this.opts.idleMs ?? 5000;
    try {
      const s = await this.bridge.scanStatus();
      if (this.stopped) return;
      const was = this.running;
      this.running = !!s.running;
      this.onStatus(s);
      if (this.running) {
        next = this.opts.runningMs ?? 500;
        this.polls++;
        const every = this.opts.progressEvery ?? 10;
        if (this.polls % every === 0) this.opts.onLibraryChanged?.();
      } else if (was) {
        this.polls = 0;
        this.opts.onLibraryChanged?.();
      }
    } catch (e) {
      if (this.stopped) return;
      if ((e as { status?: number }).status === 404) {
        // No library on this server.
        this.onStatus(null);
        this.stop();
        return;
      }
    }
    if (this.stopped) return;
    this.timer = (this.opts.timers ?? realTimers).setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, next);
  }
}
