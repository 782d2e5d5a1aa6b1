"""`python -m bulk_transcribe.tui` is the `bulk-transcribe` command."""

import sys

from .cli import main

sys.exit(main())
