"""Progress billing: the domain package shared by every function (shipped as a SAM layer)."""

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading() -> Iterator[None]:
    """A function's imports (its ``app.py``: ``with loading(): from billing import ...``), without the
    cyclic garbage collector: what they make lives as long as the process, and collecting it over and
    over is about 3% of a cold start. In Lambda's execution environment (``AWS_LAMBDA_RUNTIME_API`` is
    set there) it is then frozen (``gc.freeze``: no later collection, in the first event or any after,
    traverses it again); a process that imports a function among other work (the tests, the local
    runner, the benchmark of the automation at scale) would freeze that work too and never collect it.
    Then collection resumes. Where the collector is already off (a caller's own choice), it stays so.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
            gc.freeze()
        gc.enable()
