import os

import requests

from lambda_tracer import Tracer
from lambda_tracer.typing import LambdaContext

MODULES = ["requests"]

tracer = Tracer(patch_modules=MODULES)


@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> str:
    # Deviation from the reference: `import os` and HTTPBIN_URL, so tests can use a local server.
    ret = requests.get(os.getenv("HTTPBIN_URL", "https://httpbin.org/get"))
    ret.raise_for_status()

    return ret.json()
