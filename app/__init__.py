"""Plait's desktop app and command line (the Qt front end on top of crdt_store)."""

__version__ = "0.1.0"  # the one place the version is written; pyproject.toml reads it

APP_ID = "app.plait.Plait"  # reverse-DNS id: desktop entry, AppStream, icon name, Wayland app id
