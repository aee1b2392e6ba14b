"""Hierarchical account codes, 4-2-2-2 (jxc.domain.accounts): no database."""

from __future__ import annotations

import pytest

from jxc.domain.accounts import ancestors_of, ensure_child_code, level_of, parent_code_of
from jxc.domain.errors import AccountCodeInvalid


@pytest.mark.parametrize(
    ("code", "level", "parent", "ancestors"),
    [
        ("1002", 1, None, []),
        ("100201", 2, "1002", ["1002"]),
        ("22210101", 3, "222101", ["222101", "2221"]),
        ("2221010101", 4, "22210101", ["22210101", "222101", "2221"]),
    ],
)
def test_levels_parents_and_ancestors(code, level, parent, ancestors):
    assert level_of(code) == level
    assert parent_code_of(code) == parent
    assert ancestors_of(code) == ancestors


@pytest.mark.parametrize("code", ["", "100", "10020", "1002011", "222101010101", "10a2", "1002 ", "-100"])
def test_malformed_codes(code):
    with pytest.raises(AccountCodeInvalid) as err:
        level_of(code)
    assert err.value.params["account"] == code
    with pytest.raises(AccountCodeInvalid):
        parent_code_of(code)


@pytest.mark.parametrize(("parent", "child"), [("1002", "100201"), ("1002", "100299"), ("222101", "22210101"),
                                               ("22210101", "2221010101")])
def test_ensure_child_code_accepts(parent, child):
    assert ensure_child_code(parent, child) is None


@pytest.mark.parametrize(
    ("parent", "child"),
    [
        ("1002", "1002"),  # itself
        ("1002", "100301"),  # does not extend the parent
        ("1002", "10020101"),  # two levels down
        ("1002", "10021"),  # wrong length
        ("1002", "1002ab"),
        ("100201", "1002"),  # upwards
        ("1002", ""),
    ],
)
def test_ensure_child_code_refuses(parent, child):
    with pytest.raises(AccountCodeInvalid) as err:
        ensure_child_code(parent, child)
    assert err.value.params == {"account": child, "parent": parent}


@pytest.mark.parametrize("code", ["１００２", "١٠٠٢", "²²²²", "１００２０１"],
                         ids=["fullwidth", "arabic-indic", "superscript", "fullwidth-child"])
def test_non_ascii_digits_are_not_account_codes(code):
    """str.isdigit() is true for full-width, Arabic-Indic and superscript digits; a code is
    ASCII 0-9 only, or "１００２" would pass as a level-1 code distinct from "1002"."""
    with pytest.raises(AccountCodeInvalid):
        level_of(code)
