"""A real SpamAssassin spamd for the tests: started on a free 127.0.0.1 port with local tests
only (no DNS blocklists, no network, no Bayes learning), ready once it answers PING."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SPAMD = shutil.which("spamd") or ("/usr/sbin/spamd" if os.path.exists("/usr/sbin/spamd") else None)
HAVE_SPAMD = SPAMD is not None
# Loading SpamAssassin's rules takes about a second here; a slow machine gets thirty.
START_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _pong(port: int) -> bool:
    """spamd's protocol (SPAMC/1.5): PING answers `SPAMD/1.5 0 PONG`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING SPAMC/1.5\r\n\r\n")
            return b"PONG" in conn.recv(64)
    except OSError:
        return False


@contextmanager
def running_spamd() -> Iterator[str]:
    """Start spamd, yield its `host:port`, stop it (and its children) at the end."""
    assert SPAMD is not None
    home = Path(tempfile.mkdtemp(prefix="misiva-spamd-"))
    # spamd's children run as `nobody` when started by root; they need a home they can use.
    home.chmod(0o777)
    port = _free_port()
    command = [
        SPAMD,
        "--local",  # no network tests: no DNS blocklists, no Razor/Pyzor/DCC
        "--nouser-config",
        f"--listen=127.0.0.1:{port}",
        "--allowed-ips=127.0.0.1",
        "--max-children=2",
        "--min-children=1",
        f"--helper-home-dir={home}",
        "--syslog=stderr",
        "--cf=use_bayes 0",
        "--cf=bayes_auto_learn 0",
    ]
    if os.geteuid() == 0:
        command.append("--username=nobody")
    log = (home / "spamd.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _pong(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (home / "spamd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"spamd did not start (exit {process.returncode}):\n{tail}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        # SIGTERM: spamd's parent stops its children before it exits.
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(home, ignore_errors=True)
