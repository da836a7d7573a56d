#!/usr/bin/python3
"""A GTK window to drag files from, as a file manager would (XDND, text/uri-list).

    python3 drag_source.py X Y PATH...

Opens a 200×200 window at (X, Y) on the X server; a drag started in it carries PATH... as
file:// URIs. Prints "ready" once shown; runs until killed. Used by tests/desktop/open.test.mjs
to drop files on the app with xdotool, with no window manager or file manager around.
"""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gio, GLib, Gtk  # noqa: E402


def main() -> None:
    x, y = int(sys.argv[1]), int(sys.argv[2])
    uris = [Gio.File.new_for_path(p).get_uri() for p in sys.argv[3:]]
    window = Gtk.Window(title="sonance-drag-source")
    window.set_default_size(200, 200)
    window.move(x, y)
    source = Gtk.EventBox()
    source.add(Gtk.Label(label="drag me"))
    window.add(source)
    source.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
    source.drag_source_add_uri_targets()
    source.connect("drag-data-get", lambda _w, _ctx, data, _info, _t: data.set_uris(uris))
    window.connect("destroy", Gtk.main_quit)
    window.show_all()
    GLib.idle_add(lambda: print("ready", flush=True) and False)
    Gtk.main()


if __name__ == "__main__":
    main()
