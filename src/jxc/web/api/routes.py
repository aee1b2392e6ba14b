"""Every API router, in one place."""

from fastapi import APIRouter

from jxc.web.api import close, documents, master, reports, session, users

router = APIRouter(prefix="/api")
for module in (session, documents, master, reports, close, users):
    router.include_router(module.router)
