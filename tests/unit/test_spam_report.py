"""SpamAssassin's report table read into rules: wrapped descriptions, long names, negatives."""

from __future__ import annotations

from misiva.domain.content import SpamRule
from misiva.spam.report import parse_rules

# A real REPORT answer of Debian's spamd 4.0.1 (local tests only) to a spammy message.
REPORT = """Spam detection software, running on the system "vm",
has identified this incoming email as possible spam.  The original
message has been attached to this so you can view it or label
similar future email.  If you have any questions, see
@@CONTACT_ADDRESS@@ for details.

Content preview:  DEAR FRIEND, YOU HAVE BEEN SELECTED!!! CLICK HERE FOR FREE
   MONEY. 100% FREE, NO RISK, ACT NOW! Limited time offer. [...]

Content analysis details:   (9.2 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RECEIVED            Informational: message has no Received headers
 0.0 MSGID_SHORT            Message-ID is unusually short
 0.5 SUBJ_ALL_CAPS          Subject is all capitals
 2.7 DEAR_FRIEND            BODY: Dear Friend? That's not very dear!
 0.0 T_DRUGS_ERECTILE_SHORT_SHORTNER Short erectile drugs advert with
                            T_URL_SHORTENER
 1.0 ADVANCE_FEE_2_NEW_MONEY Advance Fee fraud and lots of money
-1.9 BAYES_00               BODY: Bayes spam probability is 0 to 1%
                            [score: 0.0000]

"""


def test_every_rule_with_its_points_and_description() -> None:
    rules = parse_rules(REPORT)
    assert [r.name for r in rules] == [
        "NO_RECEIVED",
        "MSGID_SHORT",
        "SUBJ_ALL_CAPS",
        "DEAR_FRIEND",
        "T_DRUGS_ERECTILE_SHORT_SHORTNER",
        "ADVANCE_FEE_2_NEW_MONEY",
        "BAYES_00",
    ]
    assert rules[3] == SpamRule("DEAR_FRIEND", 2.7, "BODY: Dear Friend? That's not very dear!")
    assert rules[4].description == "Short erectile drugs advert with T_URL_SHORTENER"
    assert rules[6] == SpamRule(
        "BAYES_00", -1.9, "BODY: Bayes spam probability is 0 to 1% [score: 0.0000]"
    )


def test_the_preview_above_the_table_is_not_read_as_rules() -> None:
    assert all(r.name != "MONEY" for r in parse_rules(REPORT))


def test_a_report_without_a_table_has_no_rules() -> None:
    assert parse_rules("") == ()
    assert parse_rules("Content analysis details:   (0.0 points, 5.0 required)\n") == ()
