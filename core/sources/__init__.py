"""Where the videos come from: batch files, URLs, and yt-dlp.

- `batch.py`: batch files (`.txt`, `.csv`) read into numbered lines; a bad line is data, not an error.
- `urls.py`: every form of a video URL to one canonical URL and dedupe key.
- `expand.py`: playlists, channels and pages expanded with yt-dlp (in threads), metadata read.
- `platforms.py`: deAPI's platform name for each host, and the model and options a job on it is sent with.
- `metadata_cache.py`: what yt-dlp told us, kept on disk so a reopened batch never asks again.
- `tracks.py`: a video's caption tracks as a compact list, and which one a run takes.
- `captions.py`: fetching a caption file through yt-dlp (the lookups' cookies handling).
- `subtitles.py`: VTT, SRT and json3 captions read into a timed transcript.

Nothing here talks to deAPI or knows about sessions (platforms.py only knows deAPI's names).
"""
