"""lambda_tracer: AWS X-Ray tracing for Python Lambda functions, in code or with zero code changes.

``from lambda_tracer import Tracer`` is API-compatible with the Powertools for AWS Lambda Tracer.
Importing this package is cheap: the X-Ray SDK is imported only once a Tracer is enabled.
"""

from __future__ import annotations

from time import perf_counter, time

#: When the tracer started (time(), perf_counter()): zero-code, where ``## init`` begins (init_trace.py).
STARTED = (time(), perf_counter())
#: Set before the tracer loads, so that a module below it may read it at any time (otlp.py's scope version).
__version__ = "0.1.0"

from .tracer import Tracer, aiohttp_trace_config  # noqa: E402 (STARTED is taken before the tracer loads)

del perf_counter, time

from . import coldstart  # noqa: E402 (loaded by the tracer above)

# In code, at init: gc.freeze() (nothing in zero-code, whose redirect is not being imported yet: it freezes later).
coldstart.freeze_init_objects()

__all__ = ["Tracer", "aiohttp_trace_config"]
