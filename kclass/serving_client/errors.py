"""How a TF-Serving call fails: `ServingError` (a UserError, printed as one line by the CLIs) with the
gRPC status name, and the REST status TF-Serving gives each gRPC code."""

import re
from typing import Optional

from kclass.errors import UserError

# TF-Serving's REST status for each canonical error code (model_servers/http_server.cc).
CODE_TO_HTTP = {"OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504,
                "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
                "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501,
                "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401}
HTTP_TO_CODE = {}
for _code, _status in CODE_TO_HTTP.items():
    HTTP_TO_CODE.setdefault(_status, _code)  # 400 -> INVALID_ARGUMENT, 500 -> UNKNOWN, ...


class ServingError(UserError):
    """A call to TF-Serving failed. `code`: gRPC status name; `http_status`: REST status or None."""

    def __init__(self, where: str, code: str, message: str, http_status: Optional[int] = None):
        self.where, self.code, self.message, self.http_status = where, code, message, http_status
        status = f"{code} ({http_status})" if http_status else code
        super().__init__(f"{where}: {status}: {message}")


class ServingUnavailable(ServingError):
    """Nothing answers at the address (connection refused, host unreachable, server UNAVAILABLE)."""


class ServingTimeout(ServingError):
    """No answer within the client's timeout."""


def clean_message(message: str) -> str:
    """TF's runtime error text -> one line: drops `{{function_node ...}}` and the node trace."""
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(message))
    message = message.split("\n\t [[")[0].split("\n\t[[")[0]
    message = " ".join(message.split())
    return message[:500] + (" ..." if len(message) > 500 else "")
