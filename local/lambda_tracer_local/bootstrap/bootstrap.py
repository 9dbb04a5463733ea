"""Local stand-in for the managed Python runtime's /var/runtime/bootstrap.py.

It reproduces what a wrapper and the layers can observe: awslambdaric is imported before any user
path exists; the layer directories under the opt dir (``/opt`` in Lambda) go on ``sys.path``, with
their ``.pth`` files processed, only while ``PYTHONPATH`` is unset; the task root comes first; and
the handler is read from ``_HANDLER`` *after* the exec wrapper ran (``python -m awslambdaric`` would
take argv instead and so bypass the wrapper).
"""

import os
import site
import sys

import awslambdaric.__main__ as runtime_main

# Where the layers are unpacked; only the local runtime sets this, and the function never sees it.
OPT_ENV = "LAMBDA_TRACER_LOCAL_OPT"


def layer_paths(opt: str) -> list[str]:
    """Where a layer's Python packages live, in the order the managed runtime searches them."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return [os.path.join(opt, "python", "lib", version, "site-packages"), os.path.join(opt, "python")]


def main() -> None:
    opt = os.environ.pop(OPT_ENV, "/opt")
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    pythonpath_unset = "PYTHONPATH" not in os.environ
    layers = layer_paths(opt) if pythonpath_unset else []
    sys.path[0:0] = layers
    sys.path.insert(0, task_root)
    site.addsitedir(task_root)
    for path in layers:
        site.addsitedir(path)
    if pythonpath_unset:
        os.environ["PYTHONPATH"] = os.environ["LAMBDA_RUNTIME_DIR"]
    runtime_main.main([task_root, os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
