"""Where the videos come from: batch files, URLs, and yt-dlp.

- `batch.py`: batch files (`.txt`, `.csv`) read into numbered lines; a bad line is data, not an error.
- `urls.py`: every form of a video URL to one canonical URL and dedupe key.
- `expand.py`: playlists, channels and pages expanded with yt-dlp (in threads), metadata read.
- `metadata_cache.py`: what yt-dlp told us, kept on disk so a reopened batch never asks again.

Nothing here talks to deAPI or knows about sessions.
"""
