"""The review panel's store side: concurrent edits merged close together (detector.py)."""

from .detector import CloseMerge, Detector

__all__ = ["CloseMerge", "Detector"]
