"""The admin web dashboard (engineer H): ``dashboard_api()`` is the APIRouter to mount."""

from gateway.dashboard.api import dashboard_api

__all__ = ["dashboard_api"]
