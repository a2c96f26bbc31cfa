"""Stage 2 of the pipeline: extract and tag documents on a process pool, in input order.

Its own module, apart from ingest/pipeline.py, so that a process which only extracts (an
Airflow extract task's child, ingest/extractjob.py) imports neither DuckDB nor Arrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial
from itertools import chain, islice

from ingest.extraction import add_language
from ingest.localfiles import DEFAULT_MAX_DOCUMENT_BYTES
from ingest.pool import MIN_POOL_ITEMS, START_METHOD, batched, map_in_workers
from ingest.records import SourceItem
from ingest.workers import process_chunk, warm_worker
from transforms.records import TaggedArticle


def tag_stream(
    items: Iterable[SourceItem],
    workers: int,
    start_method: str = START_METHOD,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> Iterator[TaggedArticle]:
    """Stage 2: extract and tag on `workers` processes, in input order, reading items lazily.

    Languages are detected here, in the one process that also lands: py3langid's model is the
    largest thing an extraction process would hold (73 MB), so the pool's workers skip it.
    Documents over `max_bytes` (TRADEWIRE_MAX_DOCUMENT_BYTES) become error rows unread.
    """
    stream = iter(items)
    head = list(islice(stream, MIN_POOL_ITEMS))
    if workers <= 1 or len(head) < MIN_POOL_ITEMS:
        for piece in batched(chain(head, stream), MIN_POOL_ITEMS):
            yield from process_chunk(piece, max_bytes=max_bytes)
        return
    extract = partial(process_chunk, language=False, max_bytes=max_bytes)
    lean = partial(warm_worker, language=False)
    pooled = map_in_workers(
        extract, chain(head, stream), workers, initializer=lean, start_method=start_method
    )
    for tagged in pooled:
        yield replace(tagged, article=add_language(tagged.article))
