"""Reliability suites reuse the e2e fixtures (the built layer, unpacked once per session)."""

from tests.e2e.conftest import layer_dir, layer_zip  # noqa: F401
