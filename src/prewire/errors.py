"""The one exception tree of prewire.

Every layer raises these; library errors (SQLAlchemy, pyroute2, ovsdbapp, httpx, sockets) are mapped to
them at the boundary where they occur.  Each class carries the HTTP status the API answers with and the CNI
error code the CNI plugin reports, so the translation layers never guess.

    PrewireError
    ├── InvalidInput        400  CNI 7  (bad name, CIDR, VLAN, JSON, ...)
    ├── Unauthorized        401  CNI 7
    ├── Forbidden           403  CNI 7
    ├── NotFound            404  CNI 7
    ├── Conflict            409  CNI 7  (name taken, VLAN in use, MAC/IP bound elsewhere)
    ├── Exhausted           409  CNI 11 (no free VLAN / IP / profile: try again later)
    ├── Unavailable         503  CNI 11 (controller, agent or switch unreachable)
    ├── IncompatibleVersion 400  CNI 1
    └── KernelError         500  CNI 999 (a netlink / OVS operation failed)
"""

from __future__ import annotations


class PrewireError(Exception):
    """Base of every error prewire raises on purpose."""

    status: int = 500
    cni_code: int = 999
    kind: str = "error"

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        return {"error": self.kind, "message": self.message, "details": self.details}


class InvalidInput(PrewireError):
    status = 400
    cni_code = 7
    kind = "invalid_input"


class Unauthorized(PrewireError):
    status = 401
    cni_code = 7
    kind = "unauthorized"


class Forbidden(PrewireError):
    status = 403
    cni_code = 7
    kind = "forbidden"


class NotFound(PrewireError):
    status = 404
    cni_code = 7
    kind = "not_found"


class Conflict(PrewireError):
    status = 409
    cni_code = 7
    kind = "conflict"


class Exhausted(PrewireError):
    status = 409
    cni_code = 11
    kind = "exhausted"


class Unavailable(PrewireError):
    status = 503
    cni_code = 11
    kind = "unavailable"


class IncompatibleVersion(PrewireError):
    status = 400
    cni_code = 1
    kind = "incompatible_version"


class KernelError(PrewireError):
    status = 500
    cni_code = 999
    kind = "kernel"


ERROR_KINDS: dict[str, type[PrewireError]] = {
    cls.kind: cls
    for cls in (
        InvalidInput,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Exhausted,
        Unavailable,
        IncompatibleVersion,
        KernelError,
    )
}


def from_dict(data: dict[str, object]) -> PrewireError:
    """Rebuild an error sent over the wire (API body or agent socket reply)."""
    cls = ERROR_KINDS.get(str(data.get("error", "")), PrewireError)
    return cls(str(data.get("message", "unknown error")), details=str(data.get("details", "")))
