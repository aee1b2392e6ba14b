"""(Being written.)"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jxc.web.deps import ViewerDep
from jxc.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard(request: Request, viewer: ViewerDep) -> Response:
    return render(request, "dashboard.html", viewer)
