"""The controller's REST API (FastAPI): translation between HTTP and the service layer only."""

from prewire.api.app import create_app

__all__ = ["create_app"]
