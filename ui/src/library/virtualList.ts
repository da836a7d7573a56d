/**
 * Windowing arithmetic for a list of fixed-height rows (pure, no DOM): which rows
 * a scroll position shows, with some rows of overscan either side, and the space
 * above and below them that keeps the scrollbar true to the whole list.
 */

export interface WindowInput {
  /** The scroller's scrollTop (px). */
  scrollTop: number;
  /** The scroller's visible height (px). */
  viewport: number;
  /** Where the first row starts inside the scrolled content (e.g. below a header), px. */
  bodyTop?: number;
  rowHeight: number;
  /** How many rows the list has. */
  total: number;
  /** Extra rows rendered above and below the visible ones. */
  overscan?: number;
}

export interface RowWindow {
  /** First row in the DOM. */
  start: number;
  /** One past the last row in the DOM (end === start: none). */
  end: number;
  /** Space above the first rendered row (px). */
  padTop: number;
  /** Space below the last rendered row (px). */
  padBottom: number;
  /** Height of all rows (px). */
  height: number;
}

export function rowWindow(w: WindowInput): RowWindow {
  const total = Math.max(0, Math.floor(w.total));
  const rh = w.rowHeight > 0 ? w.rowHeight : 1;
  const over = Math.max(0, Math.floor(w.overscan ?? 8));
  const height = total * rh;
  if (total === 0) return { start: 0, end: 0, padTop: 0, padBottom: 0, height: 0 };
  const top = Math.max(0, w.scrollTop - (w.bodyTop ?? 0));
  const firstVisible = Math.min(total - 1, Math.floor(top / rh));
  const lastVisible = Math.min(total, Math.ceil((top + Math.max(0, w.viewport)) / rh));
  const start = Math.max(0, firstVisible - over);
  const end = Math.min(total, Math.max(lastVisible, firstVisible + 1) + over);
  return { start, end, padTop: start * rh, padBottom: (total - end) * rh, height };
}

/** The pages (of `pageSize` items) that hold rows [start, end). */
export function pagesFor(start: number, end: number, pageSize: number): number[] {
  if (end <= start || pageSize <= 0) return [];
  const first = Math.floor(Math.max(0, start) / pageSize);
  const last = Math.floor((end - 1) / pageSize);
  const out: number[] = [];
  for (let p = first; p <= last; p++) out.push(p);
  return out;
}

/** The scrollTop that brings row `index` into view (unchanged when it already is). */
export function scrollToRow(index: number, w: Omit<WindowInput, 'total' | 'overscan'>): number {
  const rh = w.rowHeight;
  const rowTop = (w.bodyTop ?? 0) + index * rh;
  if (rowTop < w.scrollTop + (w.bodyTop ?? 0)) return Math.max(0, rowTop - (w.bodyTop ?? 0));
  if (rowTop + rh > w.scrollTop + w.viewport) return rowTop + rh - w.viewport;
  return w.scrollTop;
}
