"""Path parameters shared by routes, bounded to what the database columns can hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# An id past its column's range names no row, but it used to reach the database driver, which
# raised (OverflowError on SQLite, DataError on PostgreSQL) and the API answered 500
# (schemathesis, tests/fuzz/test_api_regressions.py). Refused as a bad parameter instead: 422
# with ErrorCode 300, like any other bad path parameter (api/app.py).
RowId = Annotated[int, Path(ge=-(2**31), le=2**31 - 1)]  # sa.Integer: 32 bits on PostgreSQL
BigRowId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1)]  # storage.types.BigID: 64 bits

# The same for offsets: past any real list, and 2**63 overflowed both drivers (500). Offsets up
# to this bound still answer an empty page, as before.
MAX_OFFSET = 2**31 - 1
