"""TF-Serving client (gRPC and REST) for models `python -m kclass.export` wrote.

    client = serving_client.connect("grpc://127.0.0.1:8500/demo")   # or http://127.0.0.1:8501/demo
    outputs = client.predict([open("cat.jpg", "rb").read()])     # {"probabilities": [N, C], ...}

URLs: `grpc://HOST[:8500]/NAME` or `http://HOST[:8501]/NAME`, optionally followed by `/versions/N` or
`/labels/LABEL`. Both clients return outputs as numpy arrays (text as `str`), are safe to share between
threads, time out every call and retry only what is safe to retry (connection refused, UNAVAILABLE).
Every failure is a `ServingError` (a UserError: the CLIs print it as one line) carrying the gRPC
status name (`code`) and, over REST, the HTTP status.
"""

from kclass.serving_client.client import Client  # noqa: F401
from kclass.serving_client.endpoint import Endpoint, parse_url
from kclass.serving_client.errors import (CODE_TO_HTTP, HTTP_TO_CODE, ServingError, ServingTimeout,  # noqa: F401
                                          ServingUnavailable, clean_message)
from kclass.serving_client.grpc_client import GrpcClient
from kclass.serving_client.rest_client import RestClient


def connect(url: str, timeout: float = 30.0, retries: int = 2, row_format: bool = False) -> Client:
    """A GrpcClient for grpc:// URLs, a RestClient for http(s):// URLs."""
    endpoint = parse_url(url)
    if endpoint.protocol == "grpc":
        return GrpcClient(endpoint, timeout, retries)
    return RestClient(endpoint, timeout, retries, row_format=row_format)
