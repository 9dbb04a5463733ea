"""The layer's entry point for aws-durable-execution-sdk-python: ``DURABLE_EXECUTION_PLUGINS=lambda_tracer``.

The layer ships this module next to ``lambda_tracer`` under /opt/python, with a ``lambda_tracer_layer``
dist-info whose ``entry_points.txt`` names it in the SDK's group::

    [aws_durable_execution.plugins]
    lambda_tracer = _lambda_tracer_durable:plugin

and the exec wrapper adds ``lambda_tracer`` to ``DURABLE_EXECUTION_PLUGINS``. The SDK reads the variable when the
user's module applies ``@durable_execution``, and a name it cannot load fails that import: the function's init.
So this module never fails, whatever the function bundles. It is top-level and layer-only (the PyPI wheel does
not ship it) because a ``lambda_tracer`` bundled in the function comes first on ``sys.path`` and may be older
than the layer: ``plugin`` is then a plugin that records nothing instead of an import error. Likewise for the
SDK: 3.x takes a factory (``lambda_tracer.durable.FACTORY``); 2.x, which reads the same variable, takes a
``DurableInstrumentationPluginProvider`` and gets one whose plugin records nothing (its hooks run on another
thread, outside the handler's context); 1.x ignores the variable.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

_SDK_PLUGIN_MODULE = "aws_durable_execution_sdk_python.plugin"
_logger = logging.getLogger("lambda_tracer")


def __getattr__(name: str) -> Any:
    if name != "plugin":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = _registration()
    except Exception as error:  # never: the entry point must load
        _logger.warning("lambda_tracer: durable operations are not traced (%s)", type(error).__name__)
        value = _Inert()
    globals()["plugin"] = value
    return value


def _registration() -> Any:
    sdk = sys.modules.get(_SDK_PLUGIN_MODULE)
    provider_type = getattr(sdk, "DurableInstrumentationPluginProvider", None)
    if sdk is not None and provider_type is not None:  # SDK 2.x: a provider of one plugin for the whole process
        inert = type("LambdaTracerInertPlugin", (sdk.DurableInstrumentationPlugin,), {})
        version = getattr(sdk, "DURABLE_INSTRUMENTATION_PLUGIN_API_VERSION", 1)
        _logger.warning("lambda_tracer: durable operations are traced with aws-durable-execution-sdk-python 3.x only")
        return provider_type(plugin_type=inert, factory=inert, plugin_api_version=version)
    factory = _factory()
    return factory if factory is not None else _Inert()


def _factory() -> Any:
    try:
        from lambda_tracer.durable import FACTORY
    except Exception as error:  # an older lambda_tracer bundled in the function hides the layer's
        _logger.warning("lambda_tracer: durable operations are not traced (%s)", type(error).__name__)
        return None
    return FACTORY


class _Inert:
    """A 3.x factory whose plugins record nothing."""

    def create_plugin(self, info: Any, /) -> Any:
        return sys.modules[_SDK_PLUGIN_MODULE].DurableInstrumentationPlugin()
