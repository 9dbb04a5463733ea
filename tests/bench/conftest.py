"""The bench measures the built layer: reuse the e2e fixture that builds it if needed."""

from tests.e2e.conftest import layer_zip  # noqa: F401
