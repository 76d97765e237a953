"""A minimal app for the admin-API tests: the keys router plus one error handler, served by uvicorn.

Run: ``uvicorn tests.gateway.keys.admin_app:create_app --factory``. Environment:
``SWITCHBOARD_MASTER_KEY`` (optional), ``TEST_STATE_PATH`` (the MemoryStore snapshot).
``GET /whoami`` authenticates its caller, so a test can see which keys still work.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.errors import InvalidRequestError, SwitchboardError
from core.store.memory import MemoryStore
from gateway.admin_keys_api import KeyServices, admin_keys_api


def create_app() -> FastAPI:
    store = MemoryStore(state_path=Path(os.environ["TEST_STATE_PATH"]))
    services = KeyServices.build(
        store, master_key=os.environ.get("SWITCHBOARD_MASTER_KEY"), pepper="test-pepper"
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(SwitchboardError)
    async def on_error(_: Request, exc: SwitchboardError) -> JSONResponse:
        return JSONResponse(exc.to_openai(), status_code=exc.status, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        err = InvalidRequestError(first["msg"], param=".".join(str(p) for p in first["loc"][1:]))
        return JSONResponse(err.to_openai(), status_code=400)

    @app.get("/whoami")
    async def whoami(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        p = await services.auth.authenticate(authorization)
        return {"key_id": p.key_id, "tenant": p.tenant, "is_master": p.is_master}

    app.include_router(admin_keys_api(services))
    return app
