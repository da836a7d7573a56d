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

  setDuration(d: number): void {
    this.duration = d > 0 ? d : 0;
    this.input.max = String(this.duration);
    this.input.disabled = this.duration === 0;
  }

  update(time: number, buffered: Range[], processed: Range[]): void {
    if (!this.dragging) {
      this.input.value = String(time);
      this.paintFill(time);
    }
    this.input.setAttribute('aria-valuetext', `${Math.floor(time / 60)} minutes ${Math.floor(time % 60)} seconds`);
    paintRanges(this.bufferedLayer, buffered, this.duration);
    paintRanges(this.processedLayer, processed, this.duration);
  }

  private paintFill(t: number): void {
    const pct = this.duration > 0 ? Math.min(100, (t / this.duration) * 100) : 0;
    this.fill.style.width = `${pct}%`;
  }
}

function paintRanges(layer: HTMLElement, ranges: Range[], duration: number): void {
  const n = ranges.length;
  while (layer.children.length > n) layer.lastElementChild!.remove();
  while (layer.children.length < n) layer.append(document.createElement('span'));
  ranges.forEach(([a, b], i) => {
    const el = layer.children[i] as HTMLElement;
    const left = duration > 0 ? (a / duration) * 100 : 0;
    const width = duration > 0 ? ((b - a) / duration) * 100 : 0;
    el.style.left = `${left}%`;
    el.style.width = `${Math.max(0, width)}%`;
  });
}
