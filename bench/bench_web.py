"""Web server under load (issue 6): `python -m bench.bench_web [--db URL] [--users 20] [--seconds 60]`.

Starts `jxc serve` (uvicorn, `--workers` processes) on a book of 1,000,000 documents
(bench/web_book.py builds and caches it; `--db` takes any other book), signs in `--users`
distinct users through the login form, and lets each of them loop, with no think time,
over the three pages the issue names: a document list page (a random document type,
sometimes the first page, sometimes a page deep in the list through its keyset cursor,
sometimes a search), a document page (a random document of a random type) and the
dashboard. Every response must be 200.

"Server time" is the app's own Server-Timing header: from the request entering the
application to its response (routing, authentication, the service calls, rendering), queueing
for a worker thread included. The client's round trip is recorded too; the load generator
runs on the same 2 cores (asyncio + httpx, one process), so it also competes with the server.
Results: bench/out/web.json and a Markdown table (p50/p95/p99 per page) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

from bench.bench_trade import machine
from bench.timing import percentile
from jxc.db.models import CashDoc, Invoice, StockDoc, TradeOrder, Voucher

OUT = Path(__file__).with_name("out")
PASSWORD = "bench-pass-1"
KINDS = {"purchase_receipt": StockDoc, "sales_delivery": StockDoc, "sales_order": TradeOrder,
         "purchase_order": TradeOrder, "sales_invoice": Invoice, "purchase_invoice": Invoice,
         "receipt": CashDoc, "payment": CashDoc, "voucher": Voucher}
TIMING = re.compile(r"app;dur=([0-9.]+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_users(url: str, count: int) -> list[str]:
    """bench01..benchNN, accountants with a known password (created once through the service)."""
    from jxc.db.session import make_engine, session_factory
    from jxc.services import users
    engine = make_engine(url)
    db = session_factory(engine)()
    names = [f"bench{i:02d}" for i in range(1, count + 1)]
    with db.begin():
        existing = set(db.execute(text("SELECT username FROM app_user")).scalars())
        admin = db.execute(text("SELECT username FROM app_user ORDER BY id")).scalars().first()
    actor = users.load_actor(db, admin)
    db.rollback()
    for name in names:
        if name not in existing:
            users.add_user(db, name, PASSWORD, roles=["admin"], actor=actor)
    db.close()
    engine.dispose()
    return names


def sample_ids(url: str, per_kind: int = 2000) -> dict[str, list[int]]:
    """Random document ids per kind, to open document pages with."""
    engine = create_engine(url)
    out: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for kind, model in KINDS.items():
            t = model.__table__
            q = select(t.c.id)
            if model is StockDoc:
                q = q.where(t.c.doc_type == kind)
            elif model is not Voucher:
                q = q.where(t.c.side == ("purchase" if kind.startswith("purchase") or kind == "payment" else "sales"))
            sub = q.subquery()
            lo_hi = conn.execute(select(func.min(sub.c.id), func.max(sub.c.id))).one()
            if lo_hi[0] is None:
                continue
            ids = conn.execute(q.where(t.c.id.in_(random.Random(kind).sample(
                range(lo_hi[0], lo_hi[1] + 1), min(per_kind * 3, lo_hi[1] - lo_hi[0] + 1))))).scalars().all()
            out[kind] = list(ids)[:per_kind]
    engine.dispose()
    return out


def count_documents(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                  for name in ("stock_doc", "trade_order", "invoice", "cash_doc", "voucher")}
    engine.dispose()
    return counts


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JXC_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "jxc.web.app:app_from_env", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning", "--no-access-log"], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text[:300]


def _list_url(rng: random.Random, cursors: dict[str, list[str]]) -> str:
    kind = rng.choice(list(KINDS))
    roll = rng.random()
    if roll < 0.4 or not cursors.get(kind):
        return f"/docs/{kind}"
    if roll < 0.8:
        return f"/docs/{kind}?cursor={rng.choice(cursors[kind])}"
    return f"/docs/{kind}?q={rng.choice(['C0', 'S0', '2026', 'X'])}"


async def user_loop(base: str, username: str, ids: dict[str, list[int]], cursors: dict[str, list[str]],
                    until: float, samples: dict[str, list[tuple[float, float]]], seed: int,
                    failures: list[str]) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False) as client:
        await sign_in(client, username)
        while time.monotonic() < until:
            page = rng.choice(("list", "document", "dashboard"))
            if page == "list":
                url = _list_url(rng, cursors)
            elif page == "document":
                kind = rng.choice([k for k in ids if ids[k]])
                url = f"/docs/{kind}/{rng.choice(ids[kind])}"
            else:
                url = "/"
            started = time.perf_counter()
            r = await client.get(url)
            wall = (time.perf_counter() - started) * 1000
            if r.status_code != 200:
                failures.append(f"{r.status_code} {url}")
                continue
            m = TIMING.search(r.headers.get("server-timing", ""))
            samples[page].append((float(m.group(1)) if m else float("nan"), wall))


async def collect_cursors(base: str, username: str, depth: int = 30) -> dict[str, list[str]]:
    """Cursors of pages deep in each list (walked once, before the timed run)."""
    out: dict[str, list[str]] = defaultdict(list)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await sign_in(client, username)
        for kind in KINDS:
            url = f"/docs/{kind}"
            for _ in range(depth):
                r = await client.get(url)
                m = re.search(r'href="(/docs/[a-z_]+\?[^"]*cursor=([^"&]+)[^"]*)"', r.text)
                if not m:
                    break
                out[kind].append(m.group(2))
                url = f"/docs/{kind}?cursor={m.group(2)}"
    return out


async def run(base: str, names: list[str], ids: dict[str, list[int]],
              seconds: float) -> tuple[dict[str, Any], list[str]]:
    cursors = await collect_cursors(base, names[0])
    samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
    failures: list[str] = []
    until = time.monotonic() + seconds
    await asyncio.gather(*(user_loop(base, n, ids, cursors, until, samples, i, failures)
                           for i, n in enumerate(names)))
    return dict(samples), failures


def summarise(samples: dict[str, list[tuple[float, float]]]) -> dict[str, Any]:
    out = {}
    for page, values in samples.items():
        server = [s for s, _ in values]
        wall = [w for _, w in values]
        out[page] = {"n": len(values),
                     "server_ms": {"p50": percentile(server, 50), "p95": percentile(server, 95),
                                   "p99": percentile(server, 99), "max": max(server)},
                     "round_trip_ms": {"p50": percentile(wall, 50), "p95": percentile(wall, 95),
                                       "p99": percentile(wall, 99)}}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="book URL (default: the cached 1,000,000-document book of bench/web_book.py)")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--out", default=str(OUT / "web.json"))
    args = ap.parse_args(argv)
    url = args.db
    if not url:
        ap.error("--db is required: build the book with `python -m bench.web_book`, copy it, pass its URL")
    names = ensure_users(url, args.users)
    ids = sample_ids(url)
    counts = count_documents(url)
    port = _free_port()
    server = start_server(url, port, args.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        if args.warmup:
            asyncio.run(run(base, names, ids, args.warmup))
        samples, failures = asyncio.run(run(base, names, ids, args.seconds))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    result = {"book": url, "documents": counts, "users": args.users, "seconds": args.seconds,
              "workers": args.workers, "machine": machine(), "pages": summarise(samples),
              "failures": failures[:20], "failure_count": len(failures)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"documents: {counts}  users: {args.users}  workers: {args.workers}  {args.seconds:.0f} s")
    print("| Page | Requests | Server p50 | Server p95 | Server p99 | Round trip p95 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for page, s in result["pages"].items():
        print(f"| {page} | {s['n']} | {s['server_ms']['p50']:.1f} ms | {s['server_ms']['p95']:.1f} ms | "
              f"{s['server_ms']['p99']:.1f} ms | {s['round_trip_ms']['p95']:.1f} ms |")
    if failures:
        print(f"{len(failures)} failed requests, e.g. {failures[:5]}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
