/** Sort keys as the API takes them: a column name, `-` in front for descending. */

export type SortOrder = 'ascending' | 'descending' | 'none';

/** Clicking `column`'s header: the same column flips its order, another starts ascending. */
export function toggleSort(current: string | null, column: string): string {
  if (current === column) return `-${column}`;
  if (current === `-${column}`) return column;
  return column;
}

/** What `aria-sort` says on `column`'s header under `current`. */
export function sortOrder(current: string | null, column: string): SortOrder {
  if (current === column) return 'ascending';
  if (current === `-${column}`) return 'descending';
  return 'none';
}
