// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { emptyState, type Command, type PlayerState } from '../src/core/model';
import { QueuePanel } from '../src/ui/queuePanel';

function setup(s: PlayerState) {
  document.body.innerHTML = '<button id="queue-toggle"></button><aside id="queue" hidden></aside>';
  const sent: Command[] = [];
  const panel = new QueuePanel(document.getElementById('queue')!, document.getElementById('queue-toggle') as HTMLButtonElement, {
    send: (c) => sent.push(c),
    label: (id) => ({ title: `Title ${id}`, artist: 'Artist' }),
  });
  panel.update(s);
  return { panel, sent, rows: () => [...document.querySelectorAll<HTMLLIElement>('#queue li[data-index]')] };
}

describe('queue panel', () => {
  it('opens with the toggle and lists the queue in play order, the current one marked', () => {
    const s: PlayerState = { ...emptyState(), tracks: ['a', 'b', 'c'], index: 1 };
    const { rows } = setup(s);
    expect(rows()).toHaveLength(0); // closed: nothing drawn
    const toggle = document.getElementById('queue-toggle')!;
    toggle.click();
    expect(document.getElementById('queue')!.hidden).toBe(false);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(rows().map((r) => r.dataset.id)).toEqual(['a', 'b', 'c']);
    expect(rows().map((r) => r.getAttribute('aria-current'))).toEqual([null, 'true', null]);
    expect(rows()[0]!.querySelector('.queue-title')!.textContent).toBe('Title a');
  });

  it('draws only the current one ± 200 of a 100 000-track queue', () => {
    const tracks = Array.from({ length: 100_000 }, (_, i) => `t${i}`);
    const { panel, rows } = setup({ ...emptyState(), tracks, index: 50_000 });
    panel.setOpen(true);
    expect(rows()).toHaveLength(401);
    expect(rows()[0]!.dataset.index).toBe('49800');
    expect(document.querySelector('#queue [aria-current]')!.getAttribute('data-id')).toBe('t50000');
    expect(document.querySelector('.queue-count')!.textContent).toBe('100000 tracks');
  });

  it('remove, clear and play from a row are commands', () => {
    const { panel, sent, rows } = setup({ ...emptyState(), tracks: ['a', 'b', 'c'], index: 0 });
    panel.setOpen(true);
    rows()[2]!.querySelector<HTMLButtonElement>('.queue-remove')!.click();
    expect(sent.at(-1)).toEqual({ type: 'remove', index: 2 });
    expect(rows()[2]!.querySelector('.queue-remove')!.getAttribute('aria-label')).toBe('Remove Title c from the queue');
    document.querySelector<HTMLButtonElement>('.queue-clear')!.click();
    expect(sent.at(-1)).toEqual({ type: 'clear' });
    rows()[1]!.querySelector<HTMLButtonElement>('.queue-title')!.click();
    expect(sent.at(-1)).toEqual({ type: 'play_now', tracks: ['a', 'b', 'c'], index: 1 });
  });

  it('an empty queue says so', () => {
    const { panel } = setup(emptyState());
    panel.setOpen(true);
    expect(document.querySelector('.queue-empty')!.textContent).toBe('The queue is empty.');
    expect(document.querySelector<HTMLButtonElement>('.queue-clear')!.disabled).toBe(true);
  });
});
