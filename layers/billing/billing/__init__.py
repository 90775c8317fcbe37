"""Progress billing: the domain package shared by every function (shipped as a SAM layer)."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading() -> Iterator[None]:
    """A function's imports (its ``app.py``: ``with loading(): from billing import ...``), without the
    cyclic garbage collector: what they make lives as long as the process, and collecting it over and
    over is about 3% of a cold start. Afterwards it is frozen (``gc.freeze``: no later collection
    traverses it again, in the first event or any after) and collection resumes. Where the collector
    is already off (a caller's own choice), it stays as it is.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
