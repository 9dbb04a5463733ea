"""Fixtures of the tests of tools/ (``publish``, mutation, python314).

They are defined in tools_support.py, shared with tests/local.
"""

from tools_support import aws_env, layer_zip, moto_url, proxy  # noqa: F401  (fixtures)
