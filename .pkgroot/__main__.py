"""`python -m bulk_transcribe` is the `bulk-transcribe` command."""

import sys

from .tui.cli import main

sys.exit(main())
