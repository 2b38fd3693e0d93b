"""Accept sends: validate, build, and queue them with their `queued` events in one commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from misiva.domain.clock import Clock, utcnow
from misiva.domain.delivery import Priority
from misiva.domain.enums import ErrorCode, StreamType
from misiva.domain.errors import InvalidRequest, MisivaError, SenderNotAllowed
from misiva.domain.ids import new_message_id
from misiva.domain.message import SendFields, SendRequest, SendResult
from misiva.domain.records import NewMessage, SendingDomain
from misiva.ingest.group_commit import GroupCommitter, Settled, Submission
from misiva.ingest.suppressed import all_inactive, partly_inactive
from misiva.ingest.templated import TemplateRenderer
from misiva.ingest.tenants import ServerContext, ServerDirectory
from misiva.ingest.tracked import add_tracking
from misiva.ingest.unsubscribe import add_list_unsubscribe
from misiva.ingest.validate import validate_send
from misiva.mail.addresses import format_address
from misiva.mail.mime import build_mime
from misiva.storage import Database
from misiva.storage import idempotency as idempotency_store
from misiva.storage import suppressions as suppression_store
from misiva.tracking.consent_tokens import ConsentLinks

IDEMPOTENCY_WINDOW = timedelta(hours=24)
TEST_JOB_ACCEPTED = "Test job accepted"
# Stands in for a templated send's body while the rest of it is checked (check_for_later).
_RENDERED_LATER = "(rendered when it is sent)"


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One item of a submission: either a message ready to queue or the reason it is not."""

    result: SendResult
    message: NewMessage | None


class Ingestor:
    """The one way into the queue, shared by the HTTP API and the CLI."""

    def __init__(
        self,
        db: Database,
        directory: ServerDirectory,
        *,
        clock: Clock = utcnow,
        on_queued: Callable[[], None] | None = None,
        templates: TemplateRenderer | None = None,
        link_base: str,
        bounce_domain: str | None = None,
    ) -> None:
        self._link_base = link_base
        self._links = ConsentLinks(link_base)
        self._bounce_domain = bounce_domain
        self._db = db
        self._directory = directory
        self._clock = clock
        self.on_queued = on_queued
        self._templates = templates or TemplateRenderer(db, links=self._links)
        self._committer = GroupCommitter(db, IDEMPOTENCY_WINDOW)

    async def accept(
        self,
        context: ServerContext,
        items: Sequence[SendFields | MisivaError],
        *,
        idempotency_key: str | None = None,
        message_ids: Sequence[str] | None = None,
    ) -> list[SendResult]:
        """Queue every valid item; an invalid one gets its error in its place of the result.

        Returns only after the messages and their events are committed (accept = commit).
        `message_ids`, one per item, are ids given beforehand (a scheduled message is
        accepted with the MessageID its caller was answered when it was scheduled).
        """
        if message_ids is not None and len(message_ids) != len(items):
            raise ValueError("one message id per item")
        if idempotency_key:
            replay = await self._replay(context.server.id, idempotency_key)
            if replay is not None:
                return replay
        now = self._clock()
        context = await self._with_fresh_domains(context, items)
        ids = list(message_ids) if message_ids is not None else [new_message_id() for _ in items]
        items = await self._templates.render_all(context, items, ids)
        checked = [self._check(context, item) for item in items]
        # Built before suppressions are known (they change no byte of the message); the
        # committer looks them up in the transaction that queues, and settles each item.
        candidates = [
            self._prepare(context, item, check, now, message_id)
            for item, check, message_id in zip(items, checked, ids, strict=True)
        ]
        submission = Submission(
            server_id=context.server.id,
            requests=[c[1] if isinstance(c, tuple) else None for c in checked],
            opt_in_streams=context.opt_in_streams,
            settle=lambda inactive: _settle(candidates, inactive),
            idempotency_key=idempotency_key,
            to_json=results_to_json,
            now=now,
        )
        results = await self._committer.commit(submission)
        if results is None:
            # Another request with this key committed first: answer what it answered.
            assert idempotency_key is not None
            replay = await self._replay(context.server.id, idempotency_key)
            if replay is None:
                raise _ConcurrentDuplicate
            return replay
        if self.on_queued is not None and any(r.error_code == ErrorCode.OK for r in results):
            self.on_queued()
        return results

    async def check_for_later(
        self, context: ServerContext, items: Sequence[SendFields | MisivaError]
    ) -> list[SendRequest | SendResult]:
        """What can be checked of sends that wait for their time (SendAt) before they are
        accepted: each item's request, or its refusal now. A templated one is checked but for
        its content, which is rendered when it leaves (with the template and contact then)."""
        context = await self._with_fresh_domains(context, items)
        found: list[SendRequest | SendResult] = []
        for item in items:
            if isinstance(item, SendFields) and item.uses_template:
                item = replace(item, html_body=item.html_body or _RENDERED_LATER)
            checked = self._check(context, item)
            found.append(checked if isinstance(checked, SendResult) else checked[1])
        return found

    async def send_notice(self, server_id: int, fields: SendFields) -> SendResult:
        """One send on a server's behalf that no API caller made (a subscription notice)."""
        context = await self._directory.by_id(server_id)
        [result] = await self.accept(context, [fields])
        return result

    async def suppressed(self, server_id: int, stream: str, email: str) -> str | None:
        """Why the address is suppressed on the stream, or None (SMTP's check at RCPT)."""
        async with self._db.reading() as tx:
            found = await suppression_store.suppressed_among(tx, server_id, stream, [email])
        return found.get(email.lower())

    def check_only(self, items: Sequence[SendFields | MisivaError]) -> list[SendResult]:
        """What Postmark's POSTMARK_API_TEST token does: validate, answer, deliver nothing."""
        return [self._check_one(item) for item in items]

    def _check_one(self, item: SendFields | MisivaError) -> SendResult:
        if isinstance(item, MisivaError):
            return error_result(None, item)
        try:
            request = validate_send(item)
        except MisivaError as error:
            return error_result(item.to, error)
        return SendResult(
            to=request.to_given,
            submitted_at=self._clock(),
            message_id=new_message_id(),
            error_code=ErrorCode.OK,
            message=TEST_JOB_ACCEPTED,
        )

    def _check(
        self, context: ServerContext, item: SendFields | MisivaError
    ) -> tuple[SendFields, SendRequest, SendingDomain] | SendResult:
        """Validation: the item's request and sending domain, or its refusal."""
        if isinstance(item, MisivaError):
            return error_result(None, item)
        try:
            request = validate_send(item)
            domain = _sending_domain(context, request)
            _check_stream(context, request.stream)
        except MisivaError as error:
            return error_result(item.to, error)
        return item, request, domain

    def _prepare(
        self,
        context: ServerContext,
        item: SendFields | MisivaError,
        checked: tuple[SendFields, SendRequest, SendingDomain] | SendResult,
        now: datetime,
        message_id: str,
    ) -> _Prepared:
        if isinstance(checked, SendResult):
            return _Prepared(checked, None)
        fields, request, domain = checked
        request = add_list_unsubscribe(
            request, message_id, context, self._links, self._bounce_domain
        )
        request = add_tracking(request, message_id, context, self._link_base)
        message = _new_message(context, fields, request, domain, now, message_id)
        result = SendResult(
            to=request.to_given,
            submitted_at=now,
            message_id=message.id,
            error_code=ErrorCode.OK,
            message="OK",
        )
        return _Prepared(result, message)

    async def _with_fresh_domains(
        self, context: ServerContext, items: Sequence[SendFields | MisivaError]
    ) -> ServerContext:
        """Reload the server once if a From domain is not in the cached context yet."""
        for item in items:
            if isinstance(item, SendFields) and item.from_:
                domain = item.from_.rpartition("@")[2].strip(" >").lower()
                if domain and domain not in context.domains:
                    return await self._directory.refresh(context)
        return context

    async def _replay(self, server_id: int, key: str) -> list[SendResult] | None:
        async with self._db.reading() as tx:
            found = await idempotency_store.find_response(
                tx, server_id, key, self._clock() - IDEMPOTENCY_WINDOW
            )
        return results_from_json(found[1]) if found else None


class _ConcurrentDuplicate(MisivaError):
    """Two requests with one Idempotency-Key raced; the loser's transaction is rolled back."""

    def __init__(self) -> None:
        super().__init__(
            "Another request with the same Idempotency-Key is being processed; retry it."
        )


def _sending_domain(context: ServerContext, request: SendRequest) -> SendingDomain:
    domain = context.domains.get(request.sender.domain)
    if domain is None:
        raise SenderNotAllowed(
            f"The 'From' address you supplied ({request.sender.email}) is not a Sender "
            "Signature on your account. Please add and confirm this address in order to be "
            "able to use it in the 'From' field of your messages."
        )
    return domain


def _check_stream(context: ServerContext, stream: str) -> None:
    if stream not in context.sendable_streams:
        raise InvalidRequest(
            "The 'MessageStream' provided does not exist on this server.",
            ErrorCode.STREAM_NOT_FOUND,
        )


def _new_message(
    context: ServerContext,
    fields: SendFields,
    request: SendRequest,
    domain: SendingDomain,
    now: datetime,
    message_id: str,
) -> NewMessage:
    return NewMessage(
        id=message_id,
        server_id=context.server.id,
        stream=request.stream,
        domain_id=domain.id,
        sender=format_address(request.sender),
        envelope_from=request.sender.email,
        to=[(a.email, a.name) for a in request.to],
        cc=[(a.email, a.name) for a in request.cc],
        bcc=[(a.email, a.name) for a in request.bcc],
        recipients=tuple(request.recipients),
        subject=request.subject,
        tag=request.tag,
        metadata=request.metadata,
        track_opens=request.track_opens,
        track_links=request.track_links.value if request.track_links else None,
        mime=build_mime(request, message_id=message_id, domain=domain.name, date=now),
        accepted_at=now,
        template_id=fields.template_id,
        template_version=fields.template_version,
        locale=fields.locale,
        priority=_priority(context, request.stream),
        content_blocks=fields.content_blocks,
    )


def _priority(context: ServerContext, stream: str) -> Priority:
    """Commercial (Broadcasts) streams wait behind transactional ones when the queue is busy."""
    found = context.streams.get(stream)
    if found is not None and found.stream_type is StreamType.BROADCASTS:
        return Priority.COMMERCIAL
    return Priority.TRANSACTIONAL


def _settle(candidates: list[_Prepared], inactive: list[frozenset[str]]) -> Settled:
    """Each item's final answer once its suppressed recipients are known: refused (406) if
    all of them are, queued without them (and saying so) if some are."""
    messages: list[NewMessage] = []
    results: list[SendResult] = []
    for candidate, skip in zip(candidates, inactive, strict=True):
        message = candidate.message
        if message is None or not skip:
            results.append(candidate.result)
            if message is not None:
                messages.append(message)
            continue
        remaining = tuple(r for r in message.recipients if r not in skip)
        if not remaining:
            results.append(error_result(candidate.result.to, all_inactive(sorted(skip))))
            continue
        # Suppressed recipients stay in the headers but are not in the envelope.
        messages.append(replace(message, recipients=remaining))
        results.append(replace(candidate.result, message=partly_inactive(sorted(skip))))
    return Settled(messages=messages, results=results)


def error_result(to: str | None, error: MisivaError) -> SendResult:
    return SendResult(
        to=to or "",
        submitted_at=None,
        message_id="",
        error_code=error.error_code,
        message=error.message,
    )


def results_to_json(results: list[SendResult]) -> list[dict[str, object]]:
    return [
        {
            "to": r.to,
            "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
            "message_id": r.message_id,
            "error_code": r.error_code,
            "message": r.message,
        }
        for r in results
    ]


def results_from_json(stored: list[dict[str, object]]) -> list[SendResult]:
    return [
        SendResult(
            to=str(r["to"]),
            submitted_at=datetime.fromisoformat(str(r["submitted_at"]))
            if r["submitted_at"]
            else None,
            message_id=str(r["message_id"]),
            error_code=int(str(r["error_code"])),
            message=str(r["message"]),
        )
        for r in stored
    ]
