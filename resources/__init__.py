"""Plait's run-time resources, shipped as package data: the application icon (an SVG
source and PNGs from 16 to 512 px), the action icons, the desktop entry and the
AppStream metainfo.

Nothing here is code. The app reads these files through importlib.resources
(app/assets.py), so they are found the same way in a source tree, an installed
wheel and the PyInstaller bundle.
"""
