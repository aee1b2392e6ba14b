"""The sidebar offers what the user may use: the close wizard to whoever may close, reopen
or lock a period, and nothing they would be refused."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_close_wizard_in_the_menu_of_those_who_may_use_it(web: Callable[[str], TestClient]) -> None:
    for user, shown in (("accountant", True), ("manager", True), ("viewer", False), ("sales", False)):
        page = web(user).get("/account")
        assert page.status_code == 200
        assert ('href="/close"' in page.text) is shown, user
    assert web("manager").get("/close").status_code == 200
    assert web("viewer").get("/close").status_code == 403
