"""Every page router, in one place."""

from fastapi import APIRouter

from jxc.web.ui import admin, auth, close, dashboard, documents, entry, master, reports

router = APIRouter()
for module in (auth, dashboard, entry, documents, reports, master, close, admin):
    router.include_router(module.router)
