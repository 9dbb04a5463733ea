"""Cold-start bookkeeping: one flag per process, shared by every Tracer and every handler.

Lambda starts a sandbox in one of three ways (``AWS_LAMBDA_INITIALIZATION_TYPE``):

* ``on-demand``: init ran because a request arrived, so the first invocation paid for it:
  ``ColdStart=true`` once, then false.
* ``provisioned-concurrency``: init ran ahead of time; no invocation waited for it:
  ``ColdStart=false`` always.
* ``snap-start``: the process was restored from a snapshot taken after init. The first invocation
  after a restore did not run init either, so it is not reported as a plain cold start
  (``ColdStart=false``); the ``InitType`` annotation says ``snap-start`` so it can be filtered on, and
  that first invocation also carries ``Restored=true``, because it waited for the restore. Each restore
  is a sandbox of its own: an after-restore hook (``snapshot_restore_py``) arms the flag again.

``annotation.ColdStart = true OR annotation.Restored = true`` finds every invocation that waited for a
sandbox to start, whatever the mode.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable

from . import config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

ON_DEMAND = "on-demand"
PROVISIONED = "provisioned-concurrency"
SNAP_START = "snap-start"

#: The first invocation's ticket, until one takes it; ``dict.pop`` is atomic, so of concurrent first
#: invocations exactly one gets it, without a lock.
_first: dict[str, bool] = {"ticket": True}
#: ``pending`` while a restore happened and no invocation has run since.
_restore: dict[str, bool] = {}
_restore_hooks: list[Callable[[], None]] = []
_INIT_TYPE_KEY = config.environ_key(config.INITIALIZATION_TYPE)
#: (the variable as read, the init type it means): Lambda sets it once per sandbox, so it is parsed once.
_known: tuple[Any, str] = (None, ON_DEMAND)
#: ``init``: what the first handler invocation of the process records before its own span, given the Tracer's
#: backend: the zero-code init trace (init_trace.py), set when init ends. Popped once (atomic, as ``_first``).
pending: dict[str, Callable[[Any], None]] = {}


def freeze_init_objects() -> None:
    """``gc.freeze()`` what exists so far, while the runtime imports the handler's module (init): the runtime's
    objects, the tracer's and whatever was made before this call, module-level state that lives as long as the
    sandbox.

    The collections the rest of the import triggers then never walk them again, and the collector's counters start
    again at zero, so the full collection a boto3 function's init runs is not reached before its first invocation
    (docs/performance.md: the garbage collector on a cold start). Called when the package is imported and when
    ``capture_lambda_handler`` decorates a handler (in code: the second call freezes what the module made in between,
    a boto3 client, which the first collection of invocation 2 would otherwise walk), and by the zero-code redirect
    once its tracer started. Only while the module ``_HANDLER`` names is being imported (never during an invocation:
    a lazy import or a decoration inside a handler freezes nothing), in a process a Lambda runtime started
    (``AWS_LAMBDA_RUNTIME_API`` set), when the environment does not turn tracing off;
    ``LAMBDA_TRACER_GC_FREEZE=false`` opts out. Cycles that are already garbage when it runs are kept for the
    sandbox's life: docs/zero-code.md says what that means for code that imports the tracer late."""
    try:
        if (
            _handler_module_importing()
            and config.get_raw(config.RUNTIME_API)
            and config.auto_disabled_reason() is None
            and config.get_bool(config.GC_FREEZE, True)
        ):
            gc.freeze()
    except Exception as error:
        config.report_once(("init", "gc.freeze"), f"gc.freeze() failed: {config.error_place(error)}")


def _handler_module_importing() -> bool:
    """Whether the module ``_HANDLER`` names (as the runtime resolves it: ``dir/app.handler`` is ``dir.app``) is
    being imported: its spec's ``_initializing``, which the import system sets while the module's code runs."""
    handler = config.get_raw(config.HANDLER) or ""
    module = sys.modules.get(handler.rsplit(".", 1)[0].replace("/", "."))
    return getattr(getattr(module, "__spec__", None), "_initializing", False) is True


def init_type() -> str:
    """The sandbox's init type; a missing value counts as on-demand (Lambda's default).

    Values Lambda may add later (e.g. ``lambda-managed-instances``) are kept; anything that does not
    look like one (too long, not lowercase words and dashes) is reported once and read as on-demand.
    """
    global _known
    raw = config.ENVIRON.get(_INIT_TYPE_KEY)
    if raw == _known[0]:
        return _known[1]
    value = (config.decoded(raw) if raw is not None else "").strip()
    if not value:
        return ON_DEMAND
    if len(value) > 40 or not value.replace("-", "").isalpha() or not value.islower():
        config.warn_once(config.INITIALIZATION_TYPE, value, ON_DEMAND)
        return ON_DEMAND
    _known = (raw, value)
    return value


def take() -> tuple[bool, str]:
    """Return (ColdStart, InitType) for the invocation starting now, and consume the first-call flag."""
    first = _first.pop("ticket", False)
    kind = init_type()
    return first and kind not in (PROVISIONED, SNAP_START), kind


def handler_annotations(service: str, extras: bool) -> tuple[dict[str, str | int | float | bool], str]:
    """The handler's annotations for the invocation starting now (``take``, and ``take_restored`` with ``extras``):
    ``ColdStart`` and ``Service``, and with ``extras`` ``InitType``, and ``Restored`` when true; and the document's
    text of them (``,"annotations":{...}``), written once for each set of values (warm invocations share one).

    The dict is shared by the invocations that record the same values: never written to (a span that takes it with
    its text copies it before its first write: ``XRaySpan.annotate``). ``service``: an exact str
    (``config.service_text``), so a lookup never runs a subclass's own ``__eq__``."""
    raw = config.ENVIRON.get(_INIT_TYPE_KEY)
    if not _first and not _restore:  # warm: no ticket left to take, no restore to tell
        known = _warm.get((service, extras, raw))
        if known is not None:
            return known
    first = _first.pop("ticket", False)
    kind = _known[1] if raw == _known[0] else init_type()  # parsed once
    cold = first and kind not in (PROVISIONED, SNAP_START)
    restored = extras and _restore.pop("pending", False)
    known = _annotations.get((cold, service, extras, kind, restored))
    if known is None:
        known = _written(cold, service, extras, kind, restored)
    if not cold and not restored and len(_warm) < _MAX_ANNOTATION_SETS:
        _warm[(service, extras, raw)] = known
    return known


#: (ColdStart, Service, extras, InitType, Restored) -> (the annotations, their text): a few sets, never cleared.
_annotations: dict[tuple[Any, ...], tuple[dict[str, str | int | float | bool], str]] = {}
_MAX_ANNOTATION_SETS = 16
#: (Service, extras, the init type as ``config.ENVIRON`` holds it) -> a warm invocation's (annotations, text).
_warm: dict[tuple[Any, ...], tuple[dict[str, str | int | float | bool], str]] = {}


def _written(
    cold: bool, service: str, extras: bool, kind: str, restored: bool
) -> tuple[dict[str, str | int | float | bool], str]:
    """The handler's annotations and their text as the document's encoder writes it (compact, strings by the same C
    function: ASCII escapes). The first invocation writes the warm ones' too, so no warm invocation has to."""
    from json.encoder import encode_basestring_ascii as string  # json is loaded at init (the document's encoder)

    recorded: dict[str, str | int | float | bool] = {"ColdStart": cold, "Service": service}
    text = f'"ColdStart":{"true" if cold else "false"},"Service":{string(service)}'
    if extras:
        recorded["InitType"] = kind
        text += f',"InitType":{string(kind)}'
        if restored:
            recorded["Restored"] = True
            text += ',"Restored":true'
    known = (recorded, ',"annotations":{' + text + "}")
    if len(_annotations) < _MAX_ANNOTATION_SETS:
        _annotations[(cold, service, extras, kind, restored)] = known
        if cold or restored:
            _written(False, service, extras, kind, False)
    return known


def send_pending_init(backend: Any) -> None:
    """Record what init left for the first invocation (once; see ``pending``)."""
    send = pending.pop("init", None)
    if send is not None:
        send(backend)


def take_restored() -> bool:
    """Whether the invocation starting now is the first after a SnapStart restore (consumes it)."""
    return _restore.pop("pending", False)


def on_restore(hook: Callable[[], None]) -> None:
    """Run ``hook`` after each SnapStart restore (fresh sockets and the like), besides arming Restored."""
    if hook not in _restore_hooks:
        _restore_hooks.append(hook)


def restored() -> None:
    """The after-restore hook: this process is a new sandbox now."""
    _restore["pending"] = True
    for hook in _restore_hooks:
        hook()


def watch_restores() -> None:
    """Register ``restored`` with the runtime's after-restore hooks, in a SnapStart sandbox only."""
    if init_type() != SNAP_START:
        return
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return  # not a runtime with SnapStart hooks: nothing will restore this process
    registry = getattr(sys.modules["snapshot_restore_py"], "_after_restore_registry", ())
    if not any(entry[0] is restored for entry in registry):  # entries are (function, args, kwargs)
        register_after_restore(restored)


def reset() -> None:
    """Make the next invocation the first again (tests, and forked workers)."""
    _first["ticket"] = True
    _restore.clear()


# A forked child is a new sandbox as far as cold starts go (awslambdaric's Lambda Managed Instances
# mode forks its workers before init, so this only matters to code that forks after an invocation).
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reset)
