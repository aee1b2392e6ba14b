"""The audit log is a hash chain: each entry's hash covers its content and the
previous entry's hash, so editing or deleting any entry breaks every later link."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str  # ISO-8601 UTC, stored as text so the hash is the same on every database
    username: str
    action: str
    entity: str
    entity_id: str
    detail: str  # canonical JSON
    prev_hash: str
    hash: str


def canonical_json(detail: object) -> str:
    """Stable JSON for hashing: sorted keys, no spaces, non-ASCII kept, Decimals as strings."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, seq: int, at: str, username: str, action: str, entity: str,
               entity_id: str, detail: str) -> str:
    payload = "\x1f".join((prev_hash, str(seq), at, username, action, entity, entity_id, detail))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def first_break(entries: Iterable[AuditEntry], prev_hash: str = GENESIS, prev_seq: int = 0) -> int | None:
    """The seq of the first entry that breaks the chain (gap, wrong link or altered content), or None."""
    for e in entries:
        if e.seq != prev_seq + 1 or e.prev_hash != prev_hash:
            return e.seq
        if entry_hash(e.prev_hash, e.seq, e.at, e.username, e.action, e.entity, e.entity_id,
                      e.detail) != e.hash:
            return e.seq
        prev_hash, prev_seq = e.hash, e.seq
    return None
