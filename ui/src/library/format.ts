/** Text for library numbers (pure). */
import type { ScanStatus } from '../bridge';

/** 1234567 → "1 234 567" (narrow no-break spaces between groups of three). */
export function groupDigits(n: number): string {
  const s = String(Math.round(Math.abs(n)));
  const out = s.replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
  return n < 0 ? `-${out}` : out;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${groupDigits(n)} ${n === 1 ? one : many}`;
}

/** "1 234 of 5 000 files, 2 100 files/s". */
export function scanText(s: ScanStatus): string {
  const parts = [`${groupDigits(s.done)} of ${groupDigits(s.total)} files`];
  if (Number.isFinite(s.files_per_s) && s.files_per_s > 0) parts.push(`${groupDigits(s.files_per_s)} files/s`);
  return parts.join(', ');
}

/** 0..1 of a scan, 0 while the total is unknown. */
export function scanFraction(s: ScanStatus): number {
  return s.total > 0 ? Math.max(0, Math.min(1, s.done / s.total)) : 0;
}

/** "12 tracks, 48 min" / "1 h 5 min". */
export function albumSummary(trackCount: number, seconds: number): string {
  const min = Math.round(seconds / 60);
  const length = min >= 60 ? `${Math.floor(min / 60)} h ${min % 60} min` : `${min} min`;
  return `${plural(trackCount, 'track')}, ${length}`;
}

/** Why a row is greyed out, for its tooltip; null when it plays. */
export function unplayableReason(t: { missing?: boolean; error?: string | null }): string | null {
  if (t.missing) return t.error ? `File missing: ${t.error}` : 'File missing: it is no longer where the library found it.';
  if (t.error) return `Cannot be played: ${t.error}`;
  return null;
}
