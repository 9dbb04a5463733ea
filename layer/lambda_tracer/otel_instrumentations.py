"""OpenTelemetry contrib instrumentations (``LAMBDA_TRACER_OTEL_INSTRUMENTATIONS``), run under our provider.

Loaded only when that setting lists some (tracer.py), after ``opentelemetry.trace`` has installed otel.py.
"""

from __future__ import annotations

import re
from typing import Any

from . import config

INSTRUMENTATIONS_ENV = "LAMBDA_TRACER_OTEL_INSTRUMENTATIONS"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_INSTRUMENTATIONS = 32


def run_instrumentations(names: list[str]) -> None:
    """Run each listed OpenTelemetry contrib instrumentor (``opentelemetry-instrumentation-<name>``) under our
    provider. Names not like ``sqlite3`` are reported once (the valid ones still run); one not installed, or
    failing, is reported once and skipped. Never raises: the function runs, untraced by it if need be."""
    import importlib

    wanted: list[str] = []
    for raw in names:
        name = raw.strip().lower().replace("-", "_")
        if not _NAME.fullmatch(name) or len(wanted) >= MAX_INSTRUMENTATIONS:
            config.warn_once(INSTRUMENTATIONS_ENV, config.get_raw(INSTRUMENTATIONS_ENV) or "", _only(names))
            continue
        if name not in wanted:
            wanted.append(name)
    for name in wanted:
        try:
            module = importlib.import_module(f"opentelemetry.instrumentation.{name}")
        except ImportError:
            config.report_once(
                ("otel instrumentation", name),
                f"{INSTRUMENTATIONS_ENV}: {name!r} is not installed (pip install opentelemetry-instrumentation-"
                f"{name.replace('_', '-')}); not traced",
            )
            continue
        except Exception as error:
            config.report_once(
                ("otel instrumentation", name),
                f"{INSTRUMENTATIONS_ENV}: importing {name!r} failed: {config.error_place(error)}; not traced",
            )
            continue
        _instrument(name, module)


def _only(names: list[str]) -> str:
    valid = [name for name in names if _NAME.fullmatch(name.strip().lower().replace("-", "_"))]
    return f"only {', '.join(valid[:MAX_INSTRUMENTATIONS])}" if valid else "none"


def _instrument(name: str, module: Any) -> None:
    import importlib

    base: Any = importlib.import_module("opentelemetry.instrumentation.instrumentor").BaseInstrumentor

    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, base)
        and value is not base
        and value.__module__.startswith(module.__name__)
    ]
    if len(found) != 1:
        config.report_once(
            ("otel instrumentation", name), f"{INSTRUMENTATIONS_ENV}: no single instrumentor in {name!r}; not traced"
        )
        return
    try:
        instrumentor = found[0]()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
    except Exception as error:
        config.report_once(
            ("otel instrumentation", name),
            f"{INSTRUMENTATIONS_ENV}: instrumenting {name!r} failed: {config.error_place(error)}; not traced",
        )
