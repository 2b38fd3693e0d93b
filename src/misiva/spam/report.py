"""Read the rules table of a SpamAssassin report (spamd's REPORT answer) into rule hits."""

from __future__ import annotations

import re

from misiva.domain.content import SpamRule

# The table that closes a report (SpamAssassin's `report` template, 10_default_prefs.cf):
#  pts rule name              description
# ---- ---------------------- --------------------------------------------------
#  2.7 DEAR_FRIEND            BODY: Dear Friend? That's not very dear!
#  0.0 T_DRUGS_ERECTILE_SHORT_SHORTNER Short erectile drugs advert with
#                             T_URL_SHORTENER
# A long name pushes its description to the right; a long description wraps onto lines
# that start with spaces only.
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)(?:\s+(.*))?$")
_RULER = re.compile(r"^-+ -+ -+\s*$")


def parse_rules(report: str) -> tuple[SpamRule, ...]:
    """The rules listed under the report's ruler line, descriptions unwrapped, in its order."""
    lines = report.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if _RULER.match(line)), len(lines))
    rules: list[SpamRule] = []
    for line in lines[start:]:
        if not line.strip():
            continue
        hit = _RULE.match(line)
        if hit:
            score, name, description = hit.groups()
            rules.append(SpamRule(name, float(score), (description or "").strip()))
        elif rules and line[:1].isspace():
            last = rules[-1]
            more = f"{last.description} {line.strip()}".strip()
            rules[-1] = SpamRule(last.name, last.score, more)
    return tuple(rules)
