"""The examples store's errors (:mod:`interseg.learning.store`), in one place for the store, its
readers and the trainer."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The store cannot be used as asked (missing, locked by another writer, corrupt)."""


class StoreSchemaError(StoreError):
    """The store was written by a newer (or unknown) schema version."""


class StoreNotReadyError(StoreError):
    """No store there yet: the index is missing, or its writer has not created the tables yet."""


class StoreWriteError(StoreError):
    """The disk refused a write (full, over quota, file too large, I/O error); nothing of the
    example was kept, the store is as it was, and the same example can be added again later."""


class NoReadableExamplesError(StoreError):
    """Every example a reader holds turned out to be unusable."""
