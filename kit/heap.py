"""The garbage collector's pauses in long-running servers.

CPython's full collection walks every tracked object, and a server's heap is mostly what its
imports and start-up built (the framework, the routes, the models, the schemas): about
100 ms a walk in an API process, several times a minute under load, and every request
waiting meanwhile (measured in docs/benchmarks.md). Frozen objects are left out of every
collection, so a full one costs what was allocated since.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """While serving, the objects alive at start-up are exempt from collection; afterwards
    they are collectable again (a test process starts and stops many servers)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
