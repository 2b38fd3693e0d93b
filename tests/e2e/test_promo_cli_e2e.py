"""`misiva promo ...` against a real installation's database: create a pool, import a CSV
with a bad line, generate codes, read the stock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness import Misiva


def test_promo_commands(misiva_factory: Callable[..., Misiva], tmp_path: Path) -> None:
    misiva = misiva_factory()
    misiva.setup_tenant()
    created = misiva.cli_json(
        "promo",
        "create",
        "WELCOME10",
        "--server",
        "shop",
        "--exhaustion",
        "omit",
        "--low-stock",
        "5",
        "--ends",
        "2027-01-31T23:59:00",
    )
    assert created["Exhaustion"] == "omit" and created["EndsAt"].startswith("2027-01-31T23:59")
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nA-1\nnot valid\nA-2\n", encoding="utf-8")
    imported = misiva.cli("promo", "import", "WELCOME10", str(csv), "--server", "shop")
    assert "line 3: 'not valid' is not a valid code" in imported.stderr
    assert "2 codes added" in imported.stdout
    generated = misiva.cli_json(
        "promo", "generate", "WELCOME10", "W-####", "20", "--server", "shop"
    )
    assert generated["Added"] == 20
    [pool] = misiva.cli_json("promo", "stock", "--server", "shop")
    assert pool["Stock"] == {"Total": 22, "Allocated": 0, "Redeemed": 0, "Available": 22}
    assert "22 available" in misiva.cli("promo", "stock", "WELCOME10", "--server", "shop").stdout
