"""Fixtures of the tests of local/ (``lambda-tracer-local``, the layer zip checks, X-Ray rules, the page).

They are defined in tools_support.py, shared with tests/tools; ``chromium`` is the page tests' (browser_support.py).
"""

import pytest
from browser_support import install_chromium
from tools_support import ROOT, aws_env, layer_zip, moto_url, proxy  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def chromium() -> str:
    """/usr/bin/chromium, installed from Debian's packages the first time (skips if that cannot be done)."""
    path, why = install_chromium(ROOT / "build" / "chromium-install.lock")
    if path is None:
        pytest.skip(f"no headless Chromium for the page test: {why}")
    return path
