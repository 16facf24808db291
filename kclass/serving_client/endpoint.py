"""Server URLs: `grpc://HOST[:8500]/NAME` or `http(s)://HOST[:8501]/NAME`, optionally followed by
`/versions/N` or `/labels/LABEL`."""

import dataclasses
from typing import Optional
from urllib.parse import urlsplit

from kclass.errors import UserError

DEFAULT_PORTS = {"grpc": 8500, "http": 8501, "https": 8501}


@dataclasses.dataclass
class Endpoint:
    """A parsed server URL: protocol `grpc`/`http`/`https`, host, port, model and version or label."""
    protocol: str
    host: str
    port: int
    model: str
    version: Optional[int] = None
    label: Optional[str] = None

    @property
    def url(self):
        suffix = f"/versions/{self.version}" if self.version else f"/labels/{self.label}" if self.label else ""
        return f"{self.protocol}://{self.host}:{self.port}/{self.model}{suffix}"


def parse_url(url: str) -> Endpoint:
    """`grpc://HOST[:PORT]/NAME[/versions/N|/labels/L]` (also http(s)://, and REST's /v1/models/NAME)."""
    parts = urlsplit(url)
    protocol = parts.scheme.lower()
    if protocol not in DEFAULT_PORTS or not parts.hostname:
        raise UserError(f"--server {url!r}: expected grpc://HOST:8500/MODEL or http://HOST:8501/MODEL")
    path = [p for p in parts.path.split("/") if p]
    if path[:2] == ["v1", "models"]:
        path = path[2:]
    version = label = None
    if len(path) == 3 and path[1] == "versions" and path[2].isdigit():
        version = int(path[2])
    elif len(path) == 3 and path[1] == "labels":
        label = path[2]
    elif len(path) != 1:
        raise UserError(f"--server {url!r}: the path must be /MODEL, /MODEL/versions/N or /MODEL/labels/LABEL")
    try:
        port = parts.port or DEFAULT_PORTS[protocol]
    except ValueError:
        raise UserError(f"--server {url!r}: bad port") from None
    return Endpoint(protocol, parts.hostname, port, path[0], version, label)
