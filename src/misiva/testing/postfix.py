"""A private Postfix instance on loopback, as a real MTA neighbour for tests and benchmarks.

It never touches the system's Postfix: its own configuration, queue and ports under a
work directory, started with `postfix -c DIR start-fg` and stopped when done.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Self

MASTER_SMTPD = "smtp      inet  n       -       y       -       -       smtpd"


def postfix_available() -> bool:
    """Postfix is installed and we may run it (it needs root to start)."""
    return shutil.which("postfix") is not None and os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostfixRelay:
    """Accepts mail on 127.0.0.1:port for the given domains and relays each domain to its
    next hop (host:port); everything else is refused. Bounces it writes go out the same way."""

    def __init__(self, transports: dict[str, str]) -> None:
        # Postfix's daemons run as the postfix user, who must reach these folders: a test's
        # own temporary folder is private to root, so the instance gets one of its own.
        self.workdir = Path(tempfile.mkdtemp(prefix="misiva-postfix-"))
        self.workdir.chmod(0o755)
        self.transports = transports
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def config_dir(self) -> Path:
        return self.workdir / "conf"

    def _write_config(self) -> None:
        for sub in ("conf", "queue", "data"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.workdir / "data", user="postfix")
        routes = ", ".join(
            f"{domain}=smtp:[{hop.rpartition(':')[0]}]:{hop.rpartition(':')[2]}"
            for domain, hop in self.transports.items()
        )
        domains = ", ".join(self.transports)
        (self.config_dir / "main.cf").write_text(
            "\n".join(
                [
                    "compatibility_level = 3.6",
                    f"queue_directory = {self.workdir / 'queue'}",
                    f"data_directory = {self.workdir / 'data'}",
                    "mail_owner = postfix",
                    "setgid_group = postdrop",
                    "myhostname = mta.relay.test",
                    "mydomain = relay.test",
                    "myorigin = $myhostname",
                    "mydestination =",
                    "inet_interfaces = 127.0.0.1",
                    "inet_protocols = ipv4",
                    "mynetworks = 127.0.0.0/8",
                    f"relay_domains = {domains}",
                    f"transport_maps = inline:{{ {routes} }}",
                    "smtp_host_lookup = native",
                    "disable_dns_lookups = yes",
                    "smtp_tls_security_level = none",
                    "smtpd_tls_security_level = none",
                    "maillog_file = /dev/stdout",
                    "alias_maps =",
                    "alias_database =",
                    "local_recipient_maps =",
                    "smtputf8_enable = no",
                    # Bounce at once on a 5xx, and do not wait long before retrying a 4xx.
                    "queue_run_delay = 1s",
                    "minimal_backoff_time = 1s",
                    "maximal_backoff_time = 5s",
                    "",
                ]
            )
        )
        master = Path("/etc/postfix/master.cf").read_text()
        smtpd = f"127.0.0.1:{self.port} inet n - n - - smtpd"
        (self.config_dir / "master.cf").write_text(master.replace(MASTER_SMTPD, smtpd, 1))

    def start(self, timeout: float = 20.0) -> Self:
        self._write_config()
        self._log = open(self.workdir / "postfix.log", "wb")  # noqa: SIM115
        self._process = subprocess.Popen(
            ["postfix", "-c", str(self.config_dir), "start-fg"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.1)
        said = self.log()
        self.stop()
        raise RuntimeError(f"postfix did not start: {said}")

    def log(self) -> str:
        path = self.workdir / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        subprocess.run(
            ["postfix", "-c", str(self.config_dir), "stop"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if self._process is not None:
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
