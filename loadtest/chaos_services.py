"""Private servers for `herbx chaos`: a PostgreSQL cluster of its own, which a chaos run may stop
and start under load without touching the shared services (5432, 6379).

Owns making the cluster (``initdb`` into the run's temporary directory, trust auth, a free port,
its socket in that directory) and stopping it the hard way (``pg_ctl stop -m immediate``: no
checkpoint, the WAL recovery of a crash) or the soft way. Run as root, the server runs as the
``postgres`` OS user (PostgreSQL refuses root). `unavailable` says why it cannot run here.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def unavailable() -> str | None:
    """None when a private cluster can be made here, else why not."""
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        return "no initdb/pg_ctl (PostgreSQL server binaries) on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` OS user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to start the server as `postgres`"
    return None


class PrivatePostgres:
    def __init__(self, directory: Path, port: int) -> None:
        self.dir = directory
        self.data = directory / "pgdata"
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self.log = directory / "postgres.log"

    def _run(self, *argv: str, timeout: float = 120.0) -> None:
        cmd = list(argv)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")

    def init(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            for p in (self.dir, *self.dir.parents):  # the server must reach its directory
                if p == Path("/") or p.stat().st_uid == pg.pw_uid:
                    break
                if p.stat().st_mode & 0o001 == 0:
                    p.chmod(p.stat().st_mode | 0o711)
            os.chown(self.dir, pg.pw_uid, pg.pw_gid)
        self._run(str(_bin("initdb")), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=on -c max_connections=50")
        self._run(str(_bin("pg_ctl")), "-D", str(self.data), "-l", str(self.log), "-o", opts,
                  "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(_bin("pg_ctl")), "-D", str(self.data), "-m", mode, "-w", "-t", "60",
                  "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()
