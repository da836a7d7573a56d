// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import type { Bridge, Page, Track, TrackQuery } from '../src/bridge';
import type { TrackSource } from '../src/library/queue';
import { ROW_HEIGHT, SongsView } from '../src/library/songsView';

const TOTAL = 100_000;
function track(i: number): Track {
  return { id: `t${i}`, title: `Song ${i}`, artist: i % 2 ? 'Beyoncé' : 'Björk', album: 'A', duration_s: 60 + i, missing: i === 3, error: i === 3 ? '/music/gone.flac' : null };
}

function setup(opts: { hold?: boolean } = {}) {
  document.body.innerHTML = `<section id="s"><table><thead id="h"><tr><th>#</th><th data-sort="title"><button>Title</button></th><th data-sort="artist"><button>Artist</button></th></tr></thead><tbody id="b"></tbody></table></section>`;
  const queries: TrackQuery[] = [];
  const held: { q: TrackQuery; resolve: () => void }[] = [];
  const bridge = {
    trackPage: (q: TrackQuery): Promise<Page<Track>> => {
      queries.push(q);
      const matching = q.q ? (i: number) => track(i).artist!.toLowerCase().startsWith(q.q!) : () => true;
      const desc = q.sort === '-title';
      const items: Track[] = [];
      const total = q.q ? TOTAL / 2 : TOTAL;
      for (let n = 0, i = q.offset ?? 0; n < (q.limit ?? 200) && i < total; n++, i++) {
        // Only the first page is filtered for real; enough for these tests.
        let idx = q.q ? 2 * i + (matching(1) ? 1 : 0) : i;
        if (desc) idx = total - 1 - idx;
        items.push(track(idx));
      }
      const page = { items, total, whole: false };
      if (!opts.hold) return Promise.resolve(page);
      return new Promise((r) => held.push({ q, resolve: () => r(page) }));
    },
  } as unknown as Bridge;
  const played: { source: TrackSource; index: number }[] = [];
  const statuses: unknown[] = [];
  const scroller = document.getElementById('s')!;
  const view = new SongsView(
    scroller,
    document.getElementById('b') as HTMLTableSectionElement,
    document.getElementById('h')!,
    bridge,
    (source, index) => played.push({ source, index }),
    (s) => statuses.push(s),
    (e) => {
      throw e;
    },
  );
  const rows = () => [...document.querySelectorAll<HTMLTableRowElement>('#b tr[data-id]')];
  return { view, queries, held, played, statuses, scroller, rows };
}

const frame = () => new Promise((r) => requestAnimationFrame(() => r(undefined)));

describe('songs view (DOM)', () => {
  it('puts only the rows in view in the DOM, with spacers keeping the full height', async () => {
    const { view, rows, queries } = setup();
    await view.reload();
    const r = rows();
    expect(r.length).toBeGreaterThan(10);
    expect(r.length).toBeLessThan(60);
    expect(r[0]!.dataset.id).toBe('t0');
    const spacers = [...document.querySelectorAll<HTMLTableRowElement>('#b tr.spacer')];
    const padded = spacers.reduce((s, tr) => s + parseFloat((tr.firstElementChild as HTMLElement).style.height), 0);
    expect(padded + document.querySelectorAll('#b tr:not(.spacer)').length * ROW_HEIGHT).toBe(TOTAL * ROW_HEIGHT);
    expect(queries[0]).toMatchObject({ offset: 0, limit: 200 });
    expect(queries[0]!.sort).toBeUndefined();
  });

  it('keeps today\'s row shape: a title button that plays, the missing greyed out with the reason', async () => {
    const { view, rows, played } = setup();
    await view.reload();
    const first = rows()[0]!;
    const button = first.querySelector('button')!;
    expect(button.textContent).toBe('Song 0');
    expect([...first.children].map((td) => td.textContent)).toEqual(['1', 'Song 0', 'Björk', 'A', '1:00']);
    button.click();
    expect(played).toHaveLength(1);
    expect(played[0]!.index).toBe(0);
    expect((await played[0]!.source.at(1))?.id).toBe('t1');
    const missing = rows()[3]!;
    expect(missing.classList.contains('missing')).toBe(true);
    expect(missing.title).toBe('File missing: /music/gone.flac');
  });

  it('fetches the pages under a deep scroll position, and draws only those rows', async () => {
    const { view, rows, scroller, queries } = setup();
    await view.reload();
    scroller.scrollTop = 50_000 * ROW_HEIGHT;
    scroller.dispatchEvent(new Event('scroll'));
    await frame();
    await vi.waitFor(() => expect(rows().some((r) => r.dataset.id === 't50000')).toBe(true));
    expect(queries.some((q) => q.offset === 50_000 - (50_000 % 200))).toBe(true);
    expect(rows().length).toBeLessThan(60);
  });

  it('sorts by a header click, toggling the order and aria-sort', async () => {
    const { view, rows, queries } = setup();
    await view.reload();
    const th = document.querySelector<HTMLElement>('th[data-sort=title]')!;
    expect(th.getAttribute('aria-sort')).toBe('none');
    th.querySelector('button')!.click();
    expect(th.getAttribute('aria-sort')).toBe('ascending');
    th.querySelector('button')!.click();
    expect(th.getAttribute('aria-sort')).toBe('descending');
    await vi.waitFor(() => expect(rows()[0]!.dataset.id).toBe(`t${TOTAL - 1}`));
    expect(queries.at(-1)!.sort).toBe('-title');
  });

  it('shows the answer to the latest search only', async () => {
    const { view, rows, held, statuses } = setup({ hold: true });
    const a = view.setQuery('bj');
    const b = view.setQuery('bey');
    // The later query answers first; the earlier one's late answer is dropped.
    held.find((x) => x.q.q === 'bey')!.resolve();
    held.find((x) => x.q.q === 'bj')!.resolve();
    await Promise.all([a, b]);
    expect(rows().every((r) => r.children[2]!.textContent === 'Beyoncé')).toBe(true);
    expect(statuses).toEqual([{ total: TOTAL / 2, query: 'bey', whole: false }]);
    expect(view.appliedQuery).toBe('bey');
  });

  it('leaves rows that stay in view in place (a focused title keeps its focus) while scrolling', async () => {
    const { view, rows, scroller } = setup();
    await view.reload();
    const row5 = rows()[5]!;
    row5.querySelector('button')!.focus();
    // 15 rows down: with 10 rows of overscan the first row in the DOM is row 5.
    scroller.scrollTop = 15 * ROW_HEIGHT;
    scroller.dispatchEvent(new Event('scroll'));
    await frame();
    await frame();
    expect(rows()[0]).toBe(row5);
    expect(document.activeElement).toBe(row5.querySelector('button'));
    const spacers = [...document.querySelectorAll('#b tr.spacer')];
    expect(spacers).toHaveLength(2);
    expect(document.querySelector('#b')!.firstElementChild!.classList.contains('spacer')).toBe(true);
  });

  it('marks the playing row', async () => {
    const { view, rows } = setup();
    await view.reload();
    view.setCurrent('t2');
    expect(rows()[2]!.getAttribute('aria-current')).toBe('true');
    view.setCurrent('t2', true);
    expect(rows()[2]!.classList.contains('failed')).toBe(true);
    expect(rows()[1]!.hasAttribute('aria-current')).toBe(false);
  });
});
