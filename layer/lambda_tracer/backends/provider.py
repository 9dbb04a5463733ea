"""A user's ``provider=``, called exactly as the reference (Powertools' Tracer) calls it.

Users who unit-test with a stub provider, or trace to another vendor, rely on those calls:
``in_subsegment(name=…)`` for functions and ``in_subsegment_async(name=…)`` for coroutines, entered
before the call and exited after it with the exception if any; ``put_annotation(key=, value=)`` and
``put_metadata(key=, value=, namespace=)`` on the yielded subsegment for the decorators, and on the
provider itself for ``tracer.put_annotation``/``put_metadata``; ``patch(modules)`` or ``patch_all()``.
The decorators call it even while the Tracer is disabled, as the reference does: disabled only stops
X-Ray emission. Values are redacted and bounded before the provider sees them.
"""

from __future__ import annotations

from . import Backend, BackendSpan

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any


class ProviderSpan(BackendSpan):
    """One ``in_subsegment`` (or ``in_subsegment_async``) block of the provider, held open."""

    def __init__(self, manager: Any, subsegment: Any, is_async: bool) -> None:
        self._manager = manager
        self._subsegment = subsegment
        self._is_async = is_async

    def annotate(self, key: str, value: str | int | float | bool) -> None:
        self._subsegment.put_annotation(key=key, value=value)

    def add_metadata(self, namespace: str, key: str, value: Any) -> None:
        self._subsegment.put_metadata(key=key, value=value, namespace=namespace)

    def end(self, error: BaseException | None = None) -> None:
        self._manager.__exit__(*_exit_arguments(error))

    async def end_async(self, error: BaseException | None = None) -> None:
        if self._is_async:
            await self._manager.__aexit__(*_exit_arguments(error))
        else:
            self.end(error)


def _exit_arguments(error: BaseException | None) -> tuple[Any, Any, Any]:
    return (type(error), error, error.__traceback__) if error is not None else (None, None, None)


class ProviderBackend(Backend):
    """Spans, annotations, metadata and patching through the user's provider."""

    records_extras = False  # exactly the reference's calls: ColdStart and Service, no InitType

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def start_span(self, name: str) -> ProviderSpan:
        manager = self.provider.in_subsegment(name=name)
        return ProviderSpan(manager, manager.__enter__(), is_async=False)

    async def start_span_async(self, name: str) -> ProviderSpan:
        opener = getattr(self.provider, "in_subsegment_async", None)
        if opener is None:
            return self.start_span(name)
        manager = opener(name=name)
        return ProviderSpan(manager, await manager.__aenter__(), is_async=True)

    def annotate_current(self, key: str, value: str | int | float | bool) -> bool:
        self.provider.put_annotation(key=key, value=value)
        return True

    def add_metadata_current(self, namespace: str, key: str, value: Any) -> bool:
        self.provider.put_metadata(key=key, value=value, namespace=namespace)
        return True

    def instrument(self, modules: list[str] | tuple[str, ...] | None) -> bool:
        if modules is None:
            patch_all = getattr(self.provider, "patch_all", None)
            if patch_all is not None:
                patch_all()
        else:
            patch = getattr(self.provider, "patch", None)
            if patch is not None:
                patch(modules)
        return True  # the provider patches as it does: the registry stays out of it

    def escape_hatch(self) -> Any:
        return self.provider
