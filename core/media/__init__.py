"""Local media files: what deAPI takes as an upload, and cutting audio into pieces under a cap.

- `chunks.py`: probe a downloaded file, and split its audio into chunks under the upload cap
  by copying packets (no re-encoding) with PyAV, whose wheels bundle FFmpeg's libraries.
"""
