"""`misiva templates push` carries each folder's test-model.json into the studio's test data,
without a new version: test data changes what the studio previews with, never what is sent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from builders import Tenant
from misiva.authoring.sync import pull, push
from misiva.authoring.templates import get_template, get_test_model
from misiva.runtime.wiring import Platform
from misiva.starter import starter_dir


async def test_push_stores_the_test_data_and_pull_writes_it_back(
    platform: Platform, tenant: Tenant, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(starter_dir() / "templates", folder)
    await push(platform.db, tenant.server.id, folder)
    model_file = folder / "order-confirmation" / "test-model.json"
    expected = json.loads(model_file.read_text(encoding="utf-8"))
    assert await get_test_model(platform.db, tenant.server.id, "order-confirmation") == expected

    # New test data alone: an update of the data, the same published version.
    before = await get_template(platform.db, tenant.server.id, "order-confirmation")
    changed = {**expected, "name": "Lucía"}
    model_file.write_text(json.dumps(changed), encoding="utf-8")
    changes = {c.alias: c for c in await push(platform.db, tenant.server.id, folder)}
    assert changes["order-confirmation"].action == "update"
    assert changes["password-reset"].action == "unchanged"
    after = await get_template(platform.db, tenant.server.id, "order-confirmation")
    assert after.template.published_version == before.template.published_version
    assert await get_test_model(platform.db, tenant.server.id, "order-confirmation") == changed

    out = tmp_path / "pulled"
    await pull(platform.db, tenant.server.id, out)
    pulled = json.loads((out / "order-confirmation" / "test-model.json").read_text("utf-8"))
    assert pulled == changed
