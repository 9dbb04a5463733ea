"""Every environment variable lambda_tracer reads, parsed forgivingly.

A garbage value never raises: it is reported once with a WARNING naming the variable and the
default that is used instead. Values are read when asked for (not cached at import) so that
tests and long-lived processes see the environment as it is now.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

logger = logging.getLogger("lambda_tracer")

# Names of the reference (Powertools) that keep working unchanged.
SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"
CAPTURE_RESPONSE = "POWERTOOLS_TRACER_CAPTURE_RESPONSE"
CAPTURE_ERROR = "POWERTOOLS_TRACER_CAPTURE_ERROR"

# Our own settings.
PATCH_MODULES = "LAMBDA_TRACER_PATCH_MODULES"
MAX_CAPTURE_BYTES = "LAMBDA_TRACER_MAX_CAPTURE_BYTES"
REDACT_KEYS = "LAMBDA_TRACER_REDACT_KEYS"
ORIGINAL_HANDLER = "LAMBDA_TRACER_ORIGINAL_HANDLER"
GC_FREEZE = "LAMBDA_TRACER_GC_FREEZE"
EXPORTER = "LAMBDA_TRACER_EXPORTER"
OTLP_UNSAMPLED = "LAMBDA_TRACER_OTLP_UNSAMPLED"
INIT_TRACE = "LAMBDA_TRACER_INIT_TRACE"
INIT_MIN_MS = "LAMBDA_TRACER_INIT_MIN_MS"

# Set by Lambda, SAM and Chalice.
TASK_ROOT = "LAMBDA_TASK_ROOT"
HANDLER = "_HANDLER"
RUNTIME_API = "AWS_LAMBDA_RUNTIME_API"
SAM_LOCAL = "AWS_SAM_LOCAL"
CHALICE_LOCAL = "AWS_CHALICE_CLI_MODE"
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"

DEFAULT_SERVICE = "service_undefined"
DEFAULT_MAX_CAPTURE_BYTES = 16 * 1024
#: A value bigger than this could never fit in one X-Ray datagram (65,507 bytes) anyway.
LIMIT_MAX_CAPTURE_BYTES = 60 * 1024
_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})
_FALSE = frozenset({"0", "n", "no", "f", "false", "off"})


#: Distinct warnings logged per process; past it, warnings are only counted (bad input must not flood logs).
MAX_REPORTS = 50
_reported: set[tuple[str, ...]] = set()
#: Warnings not logged because MAX_REPORTS distinct ones were already.
suppressed = 0


def shown(raw: str, limit: int = 24, mask: Callable[[str], str] | None = None) -> str:
    """A value safe to quote in a log line: short, printable ASCII, or only its length.

    Settings, keys and namespaces are quoted so a user can find the typo; anything long or odd is not,
    because it could be a secret or a payload that reached the setting by mistake. With ``mask`` (the policy's
    ``mask_text``), neither is a key that ``mask`` would change (``Bearer …``, ``token=…``).
    """
    if len(raw) <= limit and raw.isprintable() and raw.isascii() and (mask is None or mask(raw) == raw):
        return repr(raw)
    return f"<{len(raw)} characters>"


def warn_once(name: str, raw: str, used: str) -> None:
    """Log one WARNING per (variable, value) naming the variable and what is used instead."""
    report_once((name, raw[:64]), f"ignoring {name}={shown(raw)} (not understood); using {used}")


def report_once(key: tuple[str, ...], message: str) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen (misuse of the API, bad settings).

    At most MAX_REPORTS distinct keys are remembered: after that, one warning says so, and the rest are
    counted in ``suppressed`` (logged again at every power of ten), so no input can make the logs or the
    memory grow without bound.
    """
    global suppressed
    if key in _reported:
        return
    if len(_reported) >= MAX_REPORTS:
        suppressed += 1
        if str(suppressed).rstrip("0") == "1":  # 1, 10, 100, ...
            logger.warning("lambda_tracer: %d warnings not logged (only %d kinds are)", suppressed, MAX_REPORTS)
        return
    _reported.add(key)
    logger.warning("lambda_tracer: %s", message)


def error_place(error: BaseException) -> str:
    """``"ValueError at udp.py:42"``: an exception's type and where it was raised, never its message.

    A message can quote the value being worked on: the event, the response, a setting.
    """
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}{where}"


#: The process environment as ``os.environ`` keeps it (on POSIX, bytes to bytes), read without its Mapping
#: layers: ``os.environ.get`` costs ~5,000 instructions, ~9,000 for a variable that is not set, a lookup here a
#: few hundred. Writes through ``os.environ`` (awslambdaric sets the trace header so) update it at once.
ENVIRON: Any = os.environ
_ENCODING = sys.getfilesystemencoding()
_BYTES_KEYS = os.name == "posix" and isinstance(getattr(os.environ, "_data", None), dict)
if _BYTES_KEYS:
    ENVIRON = os.environ._data  # type: ignore[attr-defined]


def environ_key(name: str) -> Any:
    """``name`` as a key of ``ENVIRON`` (os.environ's own encoding of it)."""
    return name.encode(_ENCODING, "surrogateescape") if _BYTES_KEYS else name


def decoded(value: Any) -> str:
    """A value of ``ENVIRON`` as ``os.environ`` gives it."""
    return value.decode(_ENCODING, "surrogateescape") if _BYTES_KEYS else value  # type: ignore[no-any-return]


def get_raw(name: str) -> str | None:
    """The variable as it is, unparsed (None when unset): what ``os.environ.get`` returns, cheaper."""
    value = ENVIRON.get(environ_key(name))
    return None if value is None else decoded(value)


def get_bool(name: str, default: bool) -> bool:
    """Truthy parsing of the reference (1/y/yes/t/true/on, 0/n/no/f/false/off), but never raising."""
    value = get_explicit_bool(name, default)
    return default if value is None else value


def get_explicit_bool(name: str, default: bool | None = None) -> bool | None:
    """The variable's truth value; None when it is unset, blank or not understood (then reported once)."""
    raw = get_raw(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    warn_once(name, raw, "the default" if default is None else repr(default))
    return None


def _number(name: str, parse: Any) -> tuple[str, Any] | None:
    """(the variable as set, ``parse`` of it or None when it does not parse); None when it is unset or blank."""
    raw = get_raw(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return raw, parse(raw.strip())
    except ValueError:
        return raw, None


def get_int(name: str, default: int, low: int, high: int) -> int:
    """An integer; out of [low, high] the nearest bound, anything else ``default`` (each reported once)."""
    found = _number(name, int)
    if found is None:
        return default
    raw, value = found
    if value is None:
        warn_once(name, raw, f"the default, {default}")
        return default
    if not low <= value <= high:
        clamped: int = min(max(value, low), high)
        warn_once(name, raw, f"the nearest allowed value, {clamped} (allowed: {low} to {high})")
        return clamped
    return int(value)


def get_float(name: str, default: float, low: float, high: float) -> float:
    """A finite number in [low, high]; anything else is reported once and ``default`` is used."""
    found = _number(name, float)
    if found is None:
        return default
    raw, value = found
    if value is None or not low <= value <= high:  # NaN fails this too
        warn_once(name, raw, f"the default, {default:g} (allowed: {low:g} to {high:g})")
        return default
    return float(value)


def get_str(name: str) -> str | None:
    raw = get_raw(name)
    if raw is None:
        return None
    value = raw.strip()
    return value or None


def get_list(name: str) -> list[str] | None:
    """Comma- or space-separated list; None when unset, [] when set to an empty/blank value."""
    raw = get_raw(name)
    if raw is None:
        return None
    return [item for item in raw.replace(",", " ").split() if item]


def service_from_env() -> str | None:
    return get_str(SERVICE_NAME)


def service_text(service: object) -> str:
    """A service given in code as other than an exact str: a str subclass's text as a str (its own ``__str__`` and
    ``__eq__`` never run per invocation); anything else (``Tracer(service=42)``) its ``str()``, with one warning (the
    annotation and the metadata namespace are text), or the default when even that fails."""
    if isinstance(service, str):
        return str.__str__(service)
    kind = type(service).__name__
    try:
        text = str(service)
    except Exception as error:
        report_once(
            ("service", kind),
            f"the Tracer's service is not text ({kind}): {DEFAULT_SERVICE!r} is used, "
            f"its str() failed: {error_place(error)}",
        )
        return DEFAULT_SERVICE
    report_once(("service", kind), f"the Tracer's service is not text ({kind}): its str() is used")
    return text if text.__class__ is str else str.__str__(text)  # __str__ may return a str subclass


def auto_disabled_reason() -> str | None:
    """Why tracing is off by the environment, or None when it should run."""
    if get_bool(TRACE_DISABLED, False):
        return f"{TRACE_DISABLED} is true"
    if not get_raw(TASK_ROOT):
        return f"not running in Lambda ({TASK_ROOT} is not set)"
    if get_raw(SAM_LOCAL):
        return f"running under SAM local ({SAM_LOCAL})"
    if get_raw(CHALICE_LOCAL):
        return f"running under Chalice local ({CHALICE_LOCAL})"
    return None


def capture_response_default() -> bool:
    return get_bool(CAPTURE_RESPONSE, True)


def capture_error_default() -> bool:
    return get_bool(CAPTURE_ERROR, True)


def exporter() -> str:
    """``xray`` (segment documents, the default) or ``otlp`` (OTLP spans); anything else is reported once."""
    raw = get_raw(EXPORTER)
    value = (raw or "").strip().lower()
    if value in ("", "xray"):
        return "xray"
    if value == "otlp":
        return "otlp"
    warn_once(EXPORTER, raw or "", "'xray'")
    return "xray"


def max_capture_bytes() -> int:
    return get_int(MAX_CAPTURE_BYTES, DEFAULT_MAX_CAPTURE_BYTES, 256, LIMIT_MAX_CAPTURE_BYTES)
