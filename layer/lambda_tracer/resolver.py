"""The runtime's handler rules, for runtimes other than awslambdaric (which resolves with its own ``_get_handler``).

Imported by the zero-code redirect (handler.py) only when awslambdaric is not the running runtime.
"""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any


class HandlerError(Exception):
    """Raised by the fallback resolver; mirrors awslambdaric's FaultException fields."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.exception_type = error_type
        self.msg = message


def resolve(handler: str) -> Any:
    """The runtime's handler rules (split at the last dot, ``/`` for packages), for non-awslambdaric runtimes."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as error:
        raise HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {error}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise HandlerError("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {modname} as a handler module")
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as error:
        raise HandlerError("Runtime.ImportModuleError", f"Unable to import module '{modname}': {error}") from None
    except SyntaxError as error:
        raise HandlerError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {error}") from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise HandlerError("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'") from None
