/**
 * Library folders: the list (path, track count) with Remove; inside the desktop
 * shell also a field to add one by its path (the shell's own dialog is the usual way).
 */
import type { Bridge, LibraryFolder } from '../bridge';
import { h } from '../ui/dom';
import { plural } from './format';

export class FoldersView {
  private epoch = 0;
  loaded = false;

  constructor(
    private readonly el: HTMLElement,
    private readonly bridge: Bridge,
    /** Whether the page may offer the path field (the desktop shell). */
    private readonly canAdd: boolean,
    /** A folder was added or removed: the scan runs, the lists change. */
    private readonly onChanged: () => void,
    private readonly onError: (e: unknown) => void,
  ) {}

  async reload(): Promise<void> {
    const epoch = ++this.epoch;
    let folders: LibraryFolder[];
    try {
      folders = await this.bridge.folders();
    } catch (e) {
      if (epoch === this.epoch) {
        this.render(null);
        this.onError(e);
      }
      return;
    }
    if (epoch !== this.epoch) return;
    this.loaded = true;
    this.render(folders);
  }

  private render(folders: LibraryFolder[] | null): void {
    const parts: HTMLElement[] = [h('h2', { class: 'page-title' }, 'Library folders')];
    if (folders === null) parts.push(h('p', { class: 'dim' }, 'The folders could not be loaded.'));
    else if (folders.length === 0) parts.push(h('p', { class: 'dim' }, 'No folders yet.'));
    else {
      const ul = h('ul', { class: 'folder-list' });
      for (const f of folders) {
        const remove = h('button', { type: 'button', class: 'folder-remove', 'aria-label': `Remove ${f.path}` }, 'Remove');
        remove.addEventListener('click', () => void this.remove(f, remove));
        ul.append(h('li', { class: 'folder' }, h('span', { class: 'folder-path', title: f.path }, f.path), h('span', { class: 'dim' }, plural(f.track_count, 'track')), remove));
      }
      parts.push(ul);
    }
    if (this.canAdd) {
      const input = h('input', { type: 'text', class: 'folder-input', 'aria-label': 'Folder to add', placeholder: '/home/me/Music', spellcheck: 'false', autocomplete: 'off' });
      const add = h('button', { type: 'button', class: 'folder-add' }, 'Add folder');
      const go = () => void this.add(input, add);
      add.addEventListener('click', go);
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') go();
      });
      parts.push(h('div', { class: 'folder-form' }, input, add));
    }
    this.el.replaceChildren(...parts);
  }

  private async add(input: HTMLInputElement, button: HTMLButtonElement): Promise<void> {
    const path = input.value.trim();
    if (!path) return;
    button.disabled = true;
    try {
      await this.bridge.addFolder(path);
      input.value = '';
      this.onChanged();
      await this.reload();
    } catch (e) {
      this.onError(e);
    } finally {
      button.disabled = false;
    }
  }

  private async remove(f: LibraryFolder, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await this.bridge.removeFolder(f.id);
      this.onChanged();
      await this.reload();
    } catch (e) {
      button.disabled = false;
      this.onError(e);
    }
  }
}
