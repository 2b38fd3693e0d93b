"""JSON responses in Postmark's shapes, encoded with orjson."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.responses import Response

from misiva.domain.enums import ErrorCode
from misiva.domain.message import SendResult


class JSONResponse(Response):
    """orjson is several times faster than the stdlib encoder on the send hot path."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(status_code: int, error_code: int, message: str) -> JSONResponse:
    return JSONResponse({"ErrorCode": error_code, "Message": message}, status_code=status_code)


def send_result_json(result: SendResult, now: datetime) -> dict[str, Any]:
    """All five keys always: postmark-python refuses a batch entry that lacks one."""
    submitted = result.submitted_at or now
    return {
        "To": result.to,
        "SubmittedAt": submitted.isoformat(),
        "MessageID": result.message_id,
        "ErrorCode": result.error_code,
        "Message": result.message,
    }


def single_send_response(result: SendResult, now: datetime) -> JSONResponse:
    if result.error_code != ErrorCode.OK:
        return error_response(422, result.error_code, result.message)
    return JSONResponse(send_result_json(result, now))
