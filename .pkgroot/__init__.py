"""bulk-transcribe: bulk transcription of online video through deAPI.

`bulk_transcribe.core` is the engine (no UI imports); `bulk_transcribe.tui` holds the faces:
the Textual app, the headless printer and the command line. This root stays empty and lazy.
"""

__version__ = "0.1.0"
