"""The audit log hash chain (jxc.domain.auditchain): any edit, deletion or reordering shows."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from jxc.domain.auditchain import GENESIS, AuditEntry, canonical_json, entry_hash, first_break


def build_chain(n: int) -> list[AuditEntry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        at = f"2026-01-0{seq}T10:00:00.000000+00:00"
        detail = canonical_json({"n": seq, "amount": Decimal("1.10")})
        digest = entry_hash(prev, seq, at, "admin", "voucher.create", "voucher", str(seq), detail)
        entries.append(AuditEntry(seq, at, "admin", "voucher.create", "voucher", str(seq), detail, prev, digest))
        prev = digest
    return entries


def test_an_intact_chain_has_no_break():
    assert first_break(build_chain(5)) is None
    assert first_break([]) is None


def test_the_chain_continues_from_a_given_link():
    chain = build_chain(5)
    assert first_break(chain[3:], prev_hash=chain[2].hash, prev_seq=3) is None
    assert first_break(chain[3:]) == 4  # without the link it does not start at genesis


@pytest.mark.parametrize("field", ["at", "username", "action", "entity", "entity_id", "detail"])
def test_an_edited_entry_is_found(field):
    chain = build_chain(5)
    chain[2] = dataclasses.replace(chain[2], **{field: getattr(chain[2], field) + "x"})
    assert first_break(chain) == 3


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link():
    chain = build_chain(5)
    e = dataclasses.replace(chain[2], detail=canonical_json({"n": 3, "amount": "999.00"}))
    chain[2] = dataclasses.replace(e, hash=entry_hash(e.prev_hash, e.seq, e.at, e.username, e.action, e.entity,
                                                      e.entity_id, e.detail))
    assert first_break(chain) == 4


def test_a_deleted_entry_is_found():
    chain = build_chain(5)
    del chain[1]
    assert first_break(chain) == 3


def test_deleting_the_tail_is_not_visible_to_the_chain_alone():
    # Truncation leaves a valid prefix; the stored head (audit_head) is what catches it.
    assert first_break(build_chain(5)[:3]) is None


def test_reordered_entries_are_found():
    chain = build_chain(5)
    chain[1], chain[2] = chain[2], chain[1]
    assert first_break(chain) == 3


def test_renumbered_entries_are_found():
    chain = build_chain(3)
    chain[1] = dataclasses.replace(chain[1], seq=7)
    assert first_break(chain) == 7


def test_canonical_json_is_stable():
    a = canonical_json({"b": Decimal("1.10"), "a": "银行"})
    assert a == canonical_json({"a": "银行", "b": Decimal("1.10")})
    assert a == '{"a":"银行","b":"1.10"}'
