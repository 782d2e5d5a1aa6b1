"""Running a session: the worker group and one video's walk through deAPI.

- `engine.py`: `Engine`, the task group of workers and the ticker (progress, checkpoints).
- `video.py`: one video's walk: submit, follow the job, fetch the result, write the files.
- `captions.py`: `--captions first|only`: the video's own captions before any submit, paced.
- `pacing.py`: the adaptive number of videos in flight.
- `polling.py`: when to ask deAPI about a job (polling on a budget).
- `backoff.py`: full-jitter exponential backoff.
- `stats.py`: throughput and ETA.
"""
