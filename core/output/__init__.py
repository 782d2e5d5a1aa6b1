"""What a run leaves for the user: transcript files in five formats, and the CSV report.

- `transcripts.py`: safe file names from a template, txt/json/md/srt/vtt, atomic writes.
- `report.py`: the end-of-batch CSV, one row per input line.
- `intact.py`: `outputs_intact`, whether a done video's files are all there and non-empty (resume).
- `preflight.py`: `folder_problem`, whether a folder takes a file and has room, asked before the first submit.
"""
