"""A throwaway PostgreSQL cluster for the test run, from the machine's own binaries.

JXC_TEST_PG_URL wins when set. Otherwise initdb + pg_ctl start a private cluster
on a free loopback port (as the `postgres` user when running as root, since
PostgreSQL refuses to run as root), and it is stopped and deleted afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Cluster:
    url: str
    admin_url: str
    _dir: Path | None = None
    _bin: Path | None = None

    def stop(self) -> None:
        if self._dir is None or self._bin is None:
            return
        _run_as_pg([str(self._bin / "pg_ctl"), "-D", str(self._dir / "data"), "-m", "immediate", "-w", "stop"],
                   check=False)
        shutil.rmtree(self._dir, ignore_errors=True)


def find_bindir() -> Path | None:
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/usr/pgsql-*/bin"):
        for found in sorted(glob.glob(pattern), reverse=True):
            if Path(found, "initdb").exists():
                return Path(found)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as_pg(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def start_cluster() -> Cluster:
    """Start a private cluster and return its URLs; raises RuntimeError when no binaries exist."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb) not found")
    root = Path(tempfile.mkdtemp(prefix="jxc-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    _run_as_pg([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--no-locale"])
    port = _free_port()
    opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=50")
    _run_as_pg([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"])
    base = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        if _run_as_pg([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], check=False).returncode == 0:
            break
        time.sleep(0.2)
    return Cluster(f"{base}/jxc_test", f"{base}/postgres", root, bindir)
