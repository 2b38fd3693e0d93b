"""Every alert metric and scope has its words on the monitoring page: a new one without them
would make the page fail for as long as its alert is listed."""

from __future__ import annotations

from misiva.domain.alerts import AlertMetric, AlertScope
from misiva.web.routes_monitoring import METRIC_LABEL, SCOPE_LABEL


def test_every_metric_and_scope_has_a_label() -> None:
    assert set(METRIC_LABEL) == {m.value for m in AlertMetric}
    assert set(SCOPE_LABEL) == {s.value for s in AlertScope}
