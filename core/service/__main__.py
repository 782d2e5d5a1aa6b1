"""`python -m bulk_transcribe.core.service`: the service process, as the faces start it."""

import sys

from .daemon import main

sys.exit(main())
