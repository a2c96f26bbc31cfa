"""`python -m ingest.cli`, as the tests and cron start the command line."""

import sys

from ingest.cli import main

sys.exit(main())
