"""`misiva templates spamcheck` against a real spamd: the starter's password reset scores
clean (exit 0), a spammy template fails (exit 1) naming its rules, and without spamd the
command says it is not configured in one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness import Misiva

SUBJECT = "FREE!!! CLICK HERE TO CLAIM YOUR $1,000,000 PRIZE"
TEXT = (
    "DEAR FRIEND, CLICK HERE FOR FREE MONEY. 100% FREE, NO RISK, ACT NOW! "
    "Cheap viagra. Wire transfer of US$10,000,000 to your account. {{ unsubscribe_url }}"
)


def _spammy_folder(root: Path) -> Path:
    folder = root / "mine" / "prize"
    (folder / "default").mkdir(parents=True)
    (folder / "template.toml").write_text('name = "Prize"\nalias = "prize"\ntype = "Standard"\n')
    (folder / "default" / "subject.txt").write_text(SUBJECT)
    (folder / "default" / "body.txt").write_text(TEXT)
    return root / "mine"


def test_spamcheck_scores_the_starter_clean_and_a_spammy_template_over(
    misiva_factory: Callable[..., Misiva], spamd_addr: str, tmp_path: Path
) -> None:
    misiva = misiva_factory(spamd_addr=spamd_addr)
    misiva.setup_tenant()
    misiva.cli("templates", "install-starter", "--server", "shop")
    clean = misiva.cli("templates", "spamcheck", "password-reset", "--server", "shop")
    assert "en: score" in clean.stdout and "es: score" in clean.stdout, clean.stdout
    misiva.cli("templates", "push", str(_spammy_folder(tmp_path)), "--server", "shop")
    spammy = misiva.cli("templates", "spamcheck", "prize", "--server", "shop", check=False)
    assert spammy.returncode == 1, spammy.stderr
    assert "SPAM" in spammy.stdout and "DEAR_FRIEND" in spammy.stdout


def test_spamcheck_without_spamd_says_it_is_not_configured(
    misiva_factory: Callable[..., Misiva],
) -> None:
    misiva = misiva_factory()
    misiva.setup_tenant()
    result = misiva.cli("templates", "spamcheck", "password-reset", "--server", "shop", check=False)
    assert result.returncode != 0
    assert "MISIVA_SPAMD_ADDR" in result.stderr and "Traceback" not in result.stderr
