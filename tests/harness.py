"""Run the real `misiva` command: CLI calls and `misiva serve` processes with their own env."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

MISIVA = str(Path(sys.executable).parent / "misiva")
POSTGRES_URL = os.environ.get("MISIVA_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")


def asyncpg_dsn(url: str) -> str:
    """A database URL as asyncpg takes it: no SQLAlchemy driver name, password kept."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_admin(statement: str, url: str = POSTGRES_URL) -> None:
    """One statement outside any transaction (CREATE/DROP DATABASE, TRUNCATE), on `url`."""

    async def run() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> bool:
    """Poll `condition` every 0.1 s until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Misiva:
    """One installation: a database URL, routes and settings shared by its processes."""

    def __init__(self, workdir: Path, database_url: str, **settings: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MISIVA_")},
            "MISIVA_DATABASE_URL": database_url,
            "MISIVA_HTTP_ADDR": f"127.0.0.1:{self.port}",
            # Every installation its own submission port: tests may run several at once.
            "MISIVA_SMTP_ADDR": f"127.0.0.1:{free_port()}",
            "MISIVA_WORKER_POLL_SECONDS": "0.2",
            "MISIVA_LOG_LEVEL": "WARNING",
            # The tests' webhook receivers listen on 127.0.0.1, which production refuses.
            "MISIVA_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            **{f"MISIVA_{k.upper()}": v for k, v in settings.items()},
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [MISIVA, *args],
            input=stdin,
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"misiva {' '.join(args)} failed: {result.stderr}")
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def setup_tenant(self, server: str = "shop", domain: str = "shop.test") -> tuple[str, str]:
        """A server and a sending domain made with the CLI: (API token, DKIM TXT value)."""
        token = self.cli_json("servers", "create", server)["ApiToken"]
        dkim = self.cli_json("domains", "add", domain, "--server", server)["DKIMTextValue"]
        return token, dkim

    def serve(self, *args: str, wait_http: bool = True, **env: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"serve-{len(self.processes)}.log", "wb")  # noqa: SIM115
        self._logs.append(log)
        process = subprocess.Popen(
            [MISIVA, "serve", *args],
            env={**self.env, **{f"MISIVA_{k.upper()}": v for k, v in env.items()}},
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        if wait_http:
            self.wait_ready(process)
        return process

    def wait_ready(self, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"misiva serve exited with {process.returncode}: {self.logs()}"
                )
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("misiva serve did not start in time")

    def details(self, token: str, message_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.url}/messages/outbound/{message_id}/details",
            headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
            timeout=5,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def wait_for_event(
        self, token: str, message_id: str, event_type: str, timeout: float = 20.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            details = self.details(token, message_id)
            if any(e["Type"] == event_type for e in details["MessageEvents"]):
                return details
            time.sleep(0.1)
        raise AssertionError(f"no {event_type} event for {message_id}: {details}")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.workdir.glob("serve-*.log"))
        )
