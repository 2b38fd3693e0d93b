"""Check the installed (locked) dependencies for known vulnerabilities with pip-audit.

    python tools/audit_deps.py            # `make check` runs it

The versions audited are exactly those installed in the venv (`pip freeze`, Misiva itself
left out), audited one by one without resolving (`--no-deps --disable-pip`), against PyPI's
vulnerability data (the PyPA advisory database, served in PyPI's JSON API). A known
vulnerability fails the check (exit 1). When the data cannot be had for a package (no
network, or a PyPI mirror that serves no per-release JSON, as on the project's build
machines) that package is reported as not audited; if none could be audited the check says
so plainly and passes, unless MISIVA_AUDIT_REQUIRED=1 asks for it to fail (a CI runner with
the Internet should set it). Never a silent "no known vulnerabilities" for what was not checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
# The whole audit is ~100 small requests; bounded so that a hung mirror cannot hang `make`.
TIMEOUT_SECONDS = 300


def main() -> int:
    frozen = subprocess.run(
        [str(BIN / "pip"), "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    pins = [line for line in frozen.splitlines() if "==" in line and not line.startswith("-e")]
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(pins) + "\n")
        try:
            done = subprocess.run(
                [
                    str(BIN / "pip-audit"),
                    *("-r", str(requirements), "--no-deps", "--disable-pip"),
                    *("-s", "pypi", "-f", "json", "--progress-spinner", "off"),
                    *("--timeout", "15"),
                ],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            return _unaudited(len(pins), "pip-audit did not finish in time")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return _unaudited(len(pins), f"pip-audit failed: {reason}")
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    audited = [d for d in deps if "skip_reason" not in d]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
            print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    if vulnerable:
        return 1
    if not audited:
        return _unaudited(len(deps), "the vulnerability data answered for none of them")
    skipped = len(deps) - len(audited)
    print(f"pip-audit: {len(audited)} packages audited, no known vulnerabilities", end="")
    print(f"; {skipped} could not be audited" if skipped else "")
    return 0


def _unaudited(count: int, reason: str) -> int:
    print(
        f"pip-audit: NOT AUDITED: {count} locked packages, {reason} "
        "(PyPI's vulnerability data is not reachable from here).",
        file=sys.stderr,
    )
    return 1 if os.environ.get("MISIVA_AUDIT_REQUIRED") == "1" else 0


if __name__ == "__main__":
    sys.exit(main())
