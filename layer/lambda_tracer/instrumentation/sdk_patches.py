"""The X-Ray SDK's own patches, for the libraries we do not trace ourselves (the database clients other than
sqlite3, aiobotocore): loaded with the first of them, never at a cold start.

The registry (``__init__.py``) decides which library gets which; here the SDK's patch is applied, with the fixes
it needs to run under our tracer (``ignore_endpoint`` for botocore, sqlite3's ``connect(database=...)``, pynamodb's
requests made under a call already recorded). This module and backends/sdk.py are the only ones that import
``aws_xray_sdk``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any


def apply(sdk_name: str, module: Any) -> None:
    """Trace ``module``, just imported, with the SDK's patch ``sdk_name`` (may raise: the registry reports it)."""
    if sdk_name == "aiohttp":  # not an SDK patch: our session hook, giving sessions the SDK's trace config
        from . import aiohttp

        aiohttp.instrument(sdk_name, module, aiohttp_trace_config)
        return
    from ..backends import sdk

    sdk.recorder()  # the SDK's patches record through the global recorder: give it our context
    from aws_xray_sdk.core import patcher

    patcher.patch((sdk_name,), raise_errors=False)
    if sdk_name == "botocore":
        _ignore_in_botocore()
    elif sdk_name == "sqlite3":
        _database_by_position(module)
    elif sdk_name == "pynamodb":
        _pynamodb_outside_calls()


def _ignore_in_botocore() -> None:
    """botocore subsegments carry no URL, so decide before the call, from the client's endpoint."""
    import botocore.client
    import wrapt

    from .. import endpoints
    from ..backends import xray

    def call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            ignored = endpoints.is_ignored(instance.meta.endpoint_url)
        except Exception:
            ignored = False
        if not ignored:
            return wrapped(*args, **kwargs)
        with xray.BACKEND.suppressed():
            return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(botocore.client, "BaseClient._make_api_call", call)


def _pynamodb_outside_calls() -> None:
    """The SDK's pynamodb patch records every DynamoDB request botocore's HTTP session sends. PynamoDB 6 and boto3
    send theirs through a botocore client, whose call is recorded already (ours, or the SDK's botocore patch): a
    request sent under a call recorded goes past the patch; PynamoDB 4 and 5, which send their own, still use it."""
    import botocore.httpsession
    import wrapt

    from . import common

    def send(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if common.inside_call():
            return getattr(wrapped, "__wrapped__", wrapped)(*args, **kwargs)
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(botocore.httpsession, "URLLib3Session.send", send)


def _database_by_position(sqlite3: Any) -> None:
    """The SDK's sqlite3 patch reads the database from ``args[0]``: ``connect(database=…)`` would raise
    IndexError in the user's code. Pass it by position, as the patch expects."""
    import wrapt

    def connect(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if not args and "database" in kwargs:
            kwargs = dict(kwargs)
            args = (kwargs.pop("database"),)
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(sqlite3, "connect", connect)


def aiohttp_trace_config() -> Any:
    """The SDK's aiohttp TraceConfig, marked as ours (aiohttp left to the SDK's patch: tests compare the two)."""
    from aws_xray_sdk.ext.aiohttp.client import aws_xray_trace_config

    from ..backends import sdk
    from .aiohttp import TRACE_CONFIG_MARKER

    sdk.recorder()
    trace_config = aws_xray_trace_config()
    setattr(trace_config, TRACE_CONFIG_MARKER, True)
    return trace_config
