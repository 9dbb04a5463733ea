"""Our own instrumentation of botocore, the HTTP clients and sqlite3: no X-Ray SDK, no wrapt.

Each module traces one library, patched when user code imports it (backends/sdk_patches.py waits for the
import with sdk_patches.when_imported and hands the module over here): botocore through a wrapper of
``BaseClient._make_api_call`` and its clients' own ``before-send`` event, the HTTP clients by wrapping the one
method every request goes through (functools.wraps) or, for aiohttp, with a ``TraceConfig``, sqlite3 with
subclasses of its own connection and cursor classes (never a proxy). propagation.py says which trace headers
outgoing calls carry.

Each call is one subsegment with the fields the X-Ray SDK writes for it (tests/unit/test_instrumentation_parity.py
holds every client and outcome to the SDK's document, field by field), minus the SDK's quirks listed there. The
libraries we do not instrument ourselves (databases, aiobotocore, ...) keep the SDK's patches, loaded on demand.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: The SDK's patch name -> our module that instruments that library instead (``instrument(name, module)``).
MODULES: dict[str, str] = {
    "botocore": "botocore",
    "requests": "http",
    "httplib": "http",
    "httpx": "httpx",
    "aiohttp": "aiohttp",
    "sqlite3": "sqlite3",
}


def instrument(name: str, module: ModuleType) -> None:
    """Trace ``module``, just imported, the library the SDK calls ``name`` (one of MODULES)."""
    ours = importlib.import_module(f"{__name__}.{MODULES[name]}")
    ours.instrument(name, module)
