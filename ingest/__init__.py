"""Sources -> documents -> article records, the one pipeline, and the CLI (docs/architecture.md)."""

import os

# Before any module of ours imports pyarrow, as transforms/__init__.py does for its own: Arrow
# on the system allocator (see there why). A user's own ARROW_DEFAULT_MEMORY_POOL is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
