/**
 * A small menu of queue actions for a track or an album ("Play next", "Add to queue"),
 * opened by a row's context menu (right click, the Menu key, Shift+F10). Closes on
 * Escape, a click elsewhere, or a choice.
 */
import { h } from './dom';

export interface MenuItem {
  label: string;
  run(): void;
}

let open: { el: HTMLElement; close: () => void } | null = null;

export function closeMenu(): void {
  open?.close();
}

export function showMenu(x: number, y: number, items: MenuItem[], returnFocus?: HTMLElement | null): HTMLElement {
  closeMenu();
  const el = h('div', { class: 'menu', role: 'menu' });
  const buttons = items.map((it) => {
    const b = h('button', { type: 'button', role: 'menuitem', class: 'menu-item' }, it.label);
    b.addEventListener('click', () => {
      close();
      it.run();
    });
    return b;
  });
  el.append(...buttons);
  el.style.left = `${Math.max(0, x)}px`;
  el.style.top = `${Math.max(0, y)}px`;
  const onDown = (e: Event) => {
    if (!el.contains(e.target as Node)) close();
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
      returnFocus?.focus();
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
      const n = buttons.length;
      buttons[(i + (e.key === 'ArrowDown' ? 1 : n - 1) + n) % n]?.focus();
    }
  };
  function close(): void {
    el.remove();
    document.removeEventListener('pointerdown', onDown, true);
    document.removeEventListener('keydown', onKey, true);
    if (open?.el === el) open = null;
  }
  document.addEventListener('pointerdown', onDown, true);
  document.addEventListener('keydown', onKey, true);
  document.body.append(el);
  open = { el, close };
  buttons[0]?.focus();
  return el;
}
