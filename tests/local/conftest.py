"""Fixtures of the tests of local/ (``lambda-tracer-local``, the layer zip checks, X-Ray rules, the page).

They are defined in tools_support.py, shared with tests/tools.
"""

from tools_support import aws_env, layer_zip, moto_url, proxy  # noqa: F401  (fixtures)
