/**
 * The queue panel (`#queue`, shown by `#queue-toggle`): the core's queue in play order,
 * the current track marked `aria-current`. Only the current one ± 200 rows are drawn, so
 * a 100 000-track queue costs nothing. Drag a row to reorder (`move`), × removes one
 * (`remove`), Clear empties it (`clear`), a click on a title plays the queue from there
 * (`play_now` of the same list at that index).
 */
import { currentTrack, moveCommand, queueWindow, type Command, type PlayerState } from '../core/model';
import { h } from './dom';

export const QUEUE_RADIUS = 200;

export interface TrackLabel {
  title: string;
  artist?: string | null;
}

export interface QueuePanelHooks {
  send(cmd: Command): void;
  /** A label for an id, if known now; else fetch it and call `ready`. */
  label(id: string, ready: () => void): TrackLabel | null;
}

export class QueuePanel {
  private state: PlayerState | null = null;
  private dragFrom: number | null = null;
  private readonly list: HTMLOListElement;
  private readonly count: HTMLElement;
  private readonly clearBtn: HTMLButtonElement;
  private frame = 0;

  constructor(
    private readonly el: HTMLElement,
    private readonly toggle: HTMLButtonElement,
    private readonly hooks: QueuePanelHooks,
    private readonly radius = QUEUE_RADIUS,
  ) {
    this.count = h('span', { class: 'queue-count dim' });
    this.clearBtn = h('button', { type: 'button', class: 'queue-clear' }, 'Clear');
    this.clearBtn.addEventListener('click', () => hooks.send({ type: 'clear' }));
    this.list = h('ol', { class: 'queue-list', 'aria-label': 'Queue' });
    el.replaceChildren(h('div', { class: 'queue-head' }, h('h2', {}, 'Queue'), this.count, this.clearBtn), this.list);
    toggle.addEventListener('click', () => this.setOpen(!this.open));
    this.setOpen(!el.hidden);
    this.list.addEventListener('dragover', (e) => {
      if (this.dragFrom === null) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'move';
      this.markDrop(this.slotAt(e));
    });
    this.list.addEventListener('dragleave', () => this.markDrop(null));
    this.list.addEventListener('drop', (e) => {
      if (this.dragFrom === null || !this.state) return;
      e.preventDefault();
      const cmd = moveCommand(this.dragFrom, this.slotAt(e), this.state.tracks.length);
      this.dragFrom = null;
      this.markDrop(null);
      if (cmd) hooks.send(cmd);
    });
  }

  get open(): boolean {
    return !this.el.hidden;
  }

  setOpen(open: boolean): void {
    this.el.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    this.toggle.setAttribute('aria-pressed', String(open));
    if (open) this.render();
  }

  update(s: PlayerState): void {
    this.state = s;
    if (this.open) this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    const run = () => {
      this.frame = 0;
      this.render();
    };
    this.frame = typeof requestAnimationFrame === 'function' ? requestAnimationFrame(run) : (setTimeout(run, 0) as unknown as number);
  }

  /** Draw the window of the queue around the current track. */
  render(): void {
    const s = this.state;
    const n = s?.tracks.length ?? 0;
    this.count.textContent = n === 1 ? '1 track' : `${n} tracks`;
    this.clearBtn.disabled = n === 0;
    if (!s || n === 0) {
      this.list.replaceChildren(h('li', { class: 'queue-empty dim' }, 'The queue is empty.'));
      return;
    }
    const { start, end } = queueWindow(n, s.index, this.radius);
    this.list.start = start + 1;
    const rows: HTMLElement[] = [];
    if (start > 0) rows.push(h('li', { class: 'queue-more dim', 'aria-hidden': 'true' }, `${start} before`));
    for (let i = start; i < end; i++) rows.push(this.row(s, i));
    if (end < n) rows.push(h('li', { class: 'queue-more dim', 'aria-hidden': 'true' }, `${n - end} more`));
    this.list.replaceChildren(...rows);
    const cur = this.list.querySelector<HTMLElement>('[aria-current]');
    cur?.scrollIntoView?.({ block: 'nearest' });
  }

  private row(s: PlayerState, i: number): HTMLLIElement {
    const id = s.tracks[i]!;
    const label = this.hooks.label(id, () => this.schedule());
    const title = label?.title || id;
    const play = h('button', { type: 'button', class: 'queue-title', title: `Play ${title}` }, title);
    play.addEventListener('click', () => this.hooks.send({ type: 'play_now', tracks: s.tracks, index: i }));
    const remove = h('button', { type: 'button', class: 'queue-remove', 'aria-label': `Remove ${title} from the queue`, title: 'Remove' }, '×');
    remove.addEventListener('click', () => this.hooks.send({ type: 'remove', index: i }));
    const li = h('li', { class: 'queue-row', draggable: 'true', 'data-index': String(i), 'data-id': id }, play, h('span', { class: 'queue-artist dim' }, label?.artist ?? ''), remove);
    if (i === s.index && currentTrack(s) === id) li.setAttribute('aria-current', 'true');
    li.addEventListener('dragstart', (e) => {
      this.dragFrom = i;
      if (e.dataTransfer) {
        e.dataTransfer.effectAllowed = 'move';
        e.dataTransfer.setData('text/plain', String(i));
      }
    });
    li.addEventListener('dragend', () => {
      this.dragFrom = null;
      this.markDrop(null);
    });
    return li;
  }

  /** The slot a pointer is over: before the row under it, or after it past its middle. */
  private slotAt(e: DragEvent): number {
    const li = (e.target as Element | null)?.closest?.('li[data-index]') as HTMLElement | null;
    if (!li) return this.state?.tracks.length ?? 0;
    const i = Number(li.dataset.index);
    const r = li.getBoundingClientRect();
    return r.height > 0 && e.clientY > r.top + r.height / 2 ? i + 1 : i;
  }

  private markDrop(slot: number | null): void {
    for (const li of this.list.querySelectorAll<HTMLElement>('li[data-index]')) {
      const i = Number(li.dataset.index);
      li.classList.toggle('drop-before', slot === i);
      li.classList.toggle('drop-after', slot === i + 1 && li.nextElementSibling?.getAttribute('data-index') !== String(i + 1));
    }
  }
}
