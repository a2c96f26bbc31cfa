"""Records -> tags, tables and analyst outputs; never imports ingest (docs/architecture.md)."""

import os

# Arrow on the system allocator, not its bundled mimalloc: building one batch's tables grew the
# landing process by ~39 MB under mimalloc against ~10 MB under malloc (6 MB of data), and the
# landing is the memory peak of a run. Set before anything imports pyarrow (Arrow reads it when
# it creates its default allocator); a user's own ARROW_DEFAULT_MEMORY_POOL is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
