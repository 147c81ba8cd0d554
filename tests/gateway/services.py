"""Real PostgreSQL and Redis servers for the gateway's tests, each in its own temporary folder on a free
loopback port, stopped when the test session ends.

Debian's packages provide the programs (``make services`` installs them: ``postgresql``,
``redis-server``); where one is missing, the tests that need it skip and say which package to install.

- PostgreSQL: ``initdb`` then ``postgres`` from ``/usr/lib/postgresql/<version>/bin`` (the newest) or
  ``PATH``. It listens on 127.0.0.1 only (no Unix socket), with trust authentication for every role but
  :data:`PASSWORD_ROLE`, which must give its password (SCRAM), for tests of authentication errors.
  ``fsync`` is off: the data is thrown away, and a killed *client* loses nothing either way.
  PostgreSQL refuses to run as root, so under uid 0 the programs run as the ``postgres`` user (the
  package creates it), switched to by :class:`subprocess.Popen` itself, with the folder chowned to it.
- Redis: ``redis-server`` with no persistence (``--save '' --appendonly no``).

No server outlives the session: the fixtures stop them at the end (pytest runs that on Ctrl-C too), an
``atexit`` hook stops them if that was skipped, and each server is started with a parent-death signal
(``PR_SET_PDEATHSIG``), so the kernel stops it even if pytest itself is killed with SIGKILL. Folders left
by a killed session are removed by the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PASSWORD_ROLE = "alignkit_password_user"  # the role pg_hba.conf asks a password of (scram-sha-256)
_PREFIX = "alignkit-test-"
_PR_SET_PDEATHSIG = 1


class ServiceMissing(Exception):
    """The server program is not installed; the message says which Debian package has it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent(sig: int) -> Callable[[], None]:
    """A preexec_fn: the kernel sends ``sig`` to the child when the process that started it dies.

    Popen calls it after switching user (a user switch would clear the setting)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return preexec


def _sweep_stale() -> None:
    """Remove the folders of sessions that died without cleaning up (their owner pid is gone)."""
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), _PREFIX + "*")):
        try:
            owner = int(Path(folder, "owner.pid").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue  # another user's folder, or one being created right now


class Server:
    """A server process in a temporary folder; :meth:`stop` ends it and removes the folder."""

    name = "server"
    stop_signal = signal.SIGTERM  # how stop() asks it to shut down
    death_signal = signal.SIGTERM  # what the kernel sends it if pytest dies

    def __init__(self) -> None:
        _sweep_stale()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{self.name}-"))
        (self.dir / "owner.pid").write_text(str(os.getpid()))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        atexit.register(self.stop)

    def _spawn(self, argv: list[str], *, user: str | None = None) -> subprocess.Popen[bytes]:
        log = (self.dir / "server.log").open("ab")
        ids = {}
        if user is not None:
            pw = pwd.getpwnam(user)
            ids = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        # start_new_session: Ctrl-C in the terminal reaches pytest only, which then stops the server in order.
        return subprocess.Popen(
            argv,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
            start_new_session=True,
            preexec_fn=_die_with_parent(self.death_signal),
            **ids,  # type: ignore[arg-type]
        )

    def log_tail(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    def _wait_until(self, ready: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server (its own clean shutdown, then SIGKILL after 15 s) and remove its folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        atexit.unregister(self.stop)


def postgres_bin() -> Path | None:
    """The folder with PostgreSQL's ``initdb`` and ``postgres``: Debian's newest, else the one on PATH."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found and shutil.which("postgres") else None


class PostgresServer(Server):
    name = "postgres"
    stop_signal = signal.SIGINT  # PostgreSQL's fast shutdown: disconnect clients, then stop
    death_signal = signal.SIGQUIT  # immediate shutdown: the data is thrown away anyway

    def __init__(self) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise ServiceMissing("PostgreSQL is not installed: apt-get install postgresql (or `make services`)")
        super().__init__()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            try:
                pw = pwd.getpwnam(self.user)
            except KeyError:
                raise ServiceMissing("running as root needs the postgres user: apt-get install postgresql") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = self.dir / "data"
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        init = self._spawn([*initdb, "--locale=C", "--no-sync", "--no-instructions"], user=self.user)
        if init.wait(timeout=120) != 0:
            raise RuntimeError(f"initdb failed:\n{self.log_tail()}")
        (data / "pg_hba.conf").write_text(
            "# written by tests/gateway/services.py: TCP on 127.0.0.1 only\n"
            f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "200",  # several gateway processes, each with a pool
            "shared_buffers": "16MB",
        }
        argv = [str(bindir / "postgres"), "-D", str(data)]
        self.proc = self._spawn([*argv, *(a for k, v in settings.items() for a in ("-c", f"{k}={v}"))], user=self.user)
        self._wait_until(self._accepting)

    def _accepting(self) -> bool:
        """postmaster.pid's 8th line reads "ready" once the server accepts connections (PostgreSQL >= 10)."""
        with contextlib.suppress(OSError):
            lines = (self.dir / "data" / "postmaster.pid").read_text().splitlines()
            return len(lines) > 7 and lines[7].strip() == "ready"
        return False

    def url(self, database: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def sql(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser, outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            for s in statements:
                conn.execute(s.encode())

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; its URL."""
        name = name or f"t_{secrets.token_hex(6)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # FORCE: a leaked pool does not block it


class RedisServer(Server):
    name = "redis"

    def __init__(self) -> None:
        program = shutil.which("redis-server")
        if program is None:
            raise ServiceMissing("redis-server is not installed: apt-get install redis-server (or `make services`)")
        super().__init__()
        settings = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = self._spawn([program, *settings, "--dir", str(self.dir)])
        self._wait_until(lambda: self._ping())

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str) -> bytes:
        """Send one command (RESP) and return the raw reply's first line, e.g. ``b"+OK"``."""
        payload = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
        )
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(payload)
            return s.recv(65536).split(b"\r\n", 1)[0]

    def _ping(self) -> bool:
        with contextlib.suppress(OSError):
            return self.command("PING") == b"+PONG"
        return False
