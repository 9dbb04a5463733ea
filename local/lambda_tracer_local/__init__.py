"""lambda_tracer_local: run a Lambda function directory locally under the real runtime client, and see its traces.

Development only: this package is installed with ``lambda-tracer`` from PyPI but never shipped in the layer.
"""
