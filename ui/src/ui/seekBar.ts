import type { Range } from '../policy';

/**
 * The seek bar: a native range input (accessible name "Seek") over a rail
 * that shows processed (fetched) and buffered ranges and the played part.
 */
export class SeekBar {
  private dragging = false;
  private duration = 0;

  constructor(
    private readonly input: HTMLInputElement,
    private readonly processedLayer: HTMLElement,
    private readonly bufferedLayer: HTMLElement,
    private readonly fill: HTMLElement,
    onSeek: (t: number) => void,
    onPreview: (t: number | null) => void,
  ) {
    input.addEventListener('input', () => {
      this.dragging = true;
      onPreview(Number(input.value));
      this.paintFill(Number(input.value));
    });
    input.addEventListener('change', () => {
      const t = Number(input.value);
      this.dragging = false;
      onSeek(t);
      onPreview(null);
    });
    // ←/→ on the focused slider are handled by the page's 5 s seek (main.ts),
    // which prevents the slider's own step.
  }

  // The bar is redrawn several times a second while playing: only what changed is written
  // (every write, even of the same value, costs the page a style and layout pass).
  setDuration(d: number): void {
    const duration = d > 0 ? d : 0;
    if (duration === this.duration && this.input.max === String(duration)) return;
    this.duration = duration;
    this.input.max = String(duration);
    this.input.disabled = duration === 0;
  }

  update(time: number, buffered: Range[], processed: Range[]): void {
    if (!this.dragging) {
      // A thousandth of the track (a pixel on a 1000 px bar), at least the slider's step.
      const q = Math.max(0.1, this.duration / 1000);
      setIfChanged(this.input, 'value', String(Math.round((Math.round(time / q) * q) * 10) / 10));
      this.paintFill(time);
    }
    const text = `${Math.floor(time / 60)} minutes ${Math.floor(time % 60)} seconds`;
    if (this.input.getAttribute('aria-valuetext') !== text) this.input.setAttribute('aria-valuetext', text);
    paintRanges(this.bufferedLayer, buffered, this.duration);
    paintRanges(this.processedLayer, processed, this.duration);
  }

  private paintFill(t: number): void {
    const pct = this.duration > 0 ? Math.min(100, (t / this.duration) * 100) : 0;
    setIfChanged(this.fill.style, 'width', percent(pct));
  }
}

/** A share of the bar as CSS, to a tenth of a percent (a pixel on a 1000 px bar). */
function percent(x: number): string {
  return `${Math.round(x * 10) / 10}%`;
}

function setIfChanged<T extends object, K extends keyof T>(target: T, key: K, value: T[K]): void {
  if (target[key] !== value) target[key] = value;
}

function paintRanges(layer: HTMLElement, ranges: Range[], duration: number): void {
  const n = ranges.length;
  while (layer.children.length > n) layer.lastElementChild!.remove();
  while (layer.children.length < n) layer.append(document.createElement('span'));
  ranges.forEach(([a, b], i) => {
    const el = layer.children[i] as HTMLElement;
    const left = duration > 0 ? (a / duration) * 100 : 0;
    const width = duration > 0 ? ((b - a) / duration) * 100 : 0;
    setIfChanged(el.style, 'left', percent(left));
    setIfChanged(el.style, 'width', percent(Math.max(0, width)));
  });
}
