"""Persistence: the session on disk, crash-safe and single-writer.

- `session.py`: `Session`, the batch's state in memory and the one writer of its files.
- `format.py`: the TOML format of a session (version 1), its parse cache and listing.
- `access.py`: who may open a session: the lock, a damaged file kept aside, discarding.
- `journal.py`: the write-ahead journal (JSON lines, fsynced in groups).
- `groupcommit.py`: many writers share one fsync.
- `lockfile.py`: the flock on a sidecar file that keeps a second process out.
- `atomic.py`: whole-file writes that a crash can never tear.
"""
