"""Build Misiva's parts from the settings, once, and hand each what it needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from misiva.accounts.throttle import AuthGuard
from misiva.api.deps import ApiDeps
from misiva.authoring.content_checks import ContentChecker
from misiva.config import Settings
from misiva.delivery.deliver import DeliveryDeps
from misiva.delivery.mta_sts import MtaSts
from misiva.delivery.retry import RetrySchedule
from misiva.delivery.routes import parse_routes
from misiva.delivery.shaping import Shaper, shaping_config
from misiva.delivery.smtp_client import SmtpClientPool
from misiva.delivery.transports import transport_table
from misiva.delivery.worker import DeliveryWorker, WorkerConfig
from misiva.dns.resolver import Resolver
from misiva.domain.clock import utcnow
from misiva.domain.dkim_keys import RotationPolicy
from misiva.domain.errors import SetupError
from misiva.feedback.dmarc import DmarcReports
from misiva.feedback.engagement import Engagement
from misiva.feedback.receiver import BounceReceiver
from misiva.feedback.returned import ReturnedMail
from misiva.ingest.accept import Ingestor
from misiva.ingest.scheduled import ReleaserConfig, ScheduledReleaser
from misiva.ingest.tenants import ServerDirectory
from misiva.mail.published import SendingSetup
from misiva.scheduler.alert_mail import AlertMail
from misiva.scheduler.alerts import AlertConfig, AlertEvaluator
from misiva.scheduler.dkim_rotation import DkimRotation
from misiva.scheduler.domain_checks import DomainChecker, DomainCheckTask
from misiva.scheduler.retention import RetentionConfig, RetentionTask
from misiva.scheduler.subscriptions import ExpiredRequests
from misiva.smtp.handler import SubmissionHandler
from misiva.smtp.server import Listener, SubmissionServer, tls_context
from misiva.spam.spamd import SpamdClient
from misiva.storage import Database
from misiva.subscriptions.optin import OptIn
from misiva.subscriptions.recipient import RecipientLinks
from misiva.tracking.consent_tokens import ConsentLinks
from misiva.web.deps import WebDeps
from misiva.webhooks.dispatcher import DispatchConfig, WebhookDispatcher
from misiva.webhooks.targets import WebhookTargets


@dataclass
class Platform:
    """Everything one process runs; the CLI builds it, the runtime starts what is asked."""

    settings: Settings
    db: Database
    directory: ServerDirectory
    ingestor: Ingestor
    # One per process: the API component runs it (runtime.serve), the API wakes it.
    releaser: ScheduledReleaser
    _pools: list[SmtpClientPool] = field(default_factory=list)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def api_deps(self) -> ApiDeps:
        links = ConsentLinks(self.settings.link_base)
        return ApiDeps(
            db=self.db,
            directory=self.directory,
            ingestor=self.ingestor,
            clock=utcnow,
            engagement=Engagement(self.db),
            links=links,
            recipient_links=self.recipient_links(),
            opt_in=OptIn(self.db, links, self.ingestor),
            content_checks=self.content_checker(),
            bounce_domain=self.settings.bounce_domain,
            release_scheduled=self.releaser.notify,
            auth_failures=AuthGuard(
                self.settings.api_auth_failures, self.settings.api_auth_window_seconds
            ),
            webhook_targets=WebhookTargets(self.settings.webhook_allow_private_targets),
        )

    def web_deps(self) -> WebDeps:
        # Ten wrong passwords from one address in a quarter of an hour (by default): then
        # it waits.
        s = self.settings
        return WebDeps(
            db=self.db,
            clock=utcnow,
            logins=AuthGuard(s.ui_login_failures, s.ui_login_lockout_seconds),
            ingestor=self.ingestor,
            directory=self.directory,
            domain_checker=self.domain_checker(),
            content_checks=self.content_checker(),
        )

    def content_checker(self) -> ContentChecker:
        s = self.settings
        spamd = SpamdClient.from_addr(s.spamd_addr) if s.spamd_addr else None
        return ContentChecker(spamd, s.spam_threshold)

    def domain_checker(self) -> DomainChecker:
        s = self.settings
        return DomainChecker(
            s.dns_nameserver,
            SendingSetup(s.hostname, s.bounce_domain, s.outbound_addresses),
            policy=RotationPolicy(
                overlap=timedelta(hours=s.dkim_overlap_hours),
                retire_after=timedelta(hours=s.dkim_retire_hours),
            ),
        )

    def new_domain_checks(self) -> DomainCheckTask:
        return DomainCheckTask(
            self.db,
            self.domain_checker(),
            interval_seconds=self.settings.domain_check_interval_seconds,
        )

    def new_dkim_rotation(self) -> DkimRotation:
        return DkimRotation(self.db, self.domain_checker())

    def recipient_links(self) -> RecipientLinks:
        return RecipientLinks(self.db, ConsentLinks(self.settings.link_base), self.ingestor)

    def new_dispatcher(self) -> WebhookDispatcher:
        s = self.settings
        dispatcher = WebhookDispatcher(
            self.db,
            DispatchConfig(
                poll_seconds=s.webhook_poll_seconds,
                timeout_seconds=s.webhook_timeout_seconds,
                lease_seconds=s.webhook_lease_seconds,
                first_retry_seconds=s.webhook_first_retry_seconds,
                give_up_after_seconds=s.webhook_retry_hours * 3600,
                allow_private_targets=s.webhook_allow_private_targets,
            ),
        )
        self._closers.append(dispatcher.close)
        return dispatcher

    def new_bounce_receiver(self) -> BounceReceiver:
        s = self.settings
        if not s.bounce_domain:
            raise SetupError("the bounce receiver needs MISIVA_BOUNCE_DOMAIN")
        host, port = host_port("MISIVA_BOUNCE_ADDR", s.bounce_addr)
        returned = ReturnedMail(
            self.db,
            s.bounce_domain,
            on_unsubscribe=self.recipient_links().unsubscribe_by_mail,
            dmarc=DmarcReports(self.db),
        )
        return BounceReceiver(returned, host, port, s.hostname)

    def new_retention(self) -> RetentionTask:
        s = self.settings
        return RetentionTask(
            self.db,
            RetentionConfig(content_days=s.retention_content_days, data_days=s.retention_days),
        )

    def new_submission_server(self) -> SubmissionServer:
        s = self.settings
        listeners = [Listener(*host_port("MISIVA_SMTP_ADDR", s.smtp_addr))]
        if s.smtps_addr:
            host, port = host_port("MISIVA_SMTPS_ADDR", s.smtps_addr)
            listeners.append(Listener(host, port, implicit_tls=True))
        handler = SubmissionHandler(
            self.directory,
            self.ingestor,
            AuthGuard(s.smtp_auth_failures, s.smtp_auth_lockout_seconds),
        )
        return SubmissionServer(
            handler,
            listeners,
            hostname=s.hostname,
            tls_context=tls_context(s.smtp_tls_cert, s.smtp_tls_key),
            loopback_plaintext=s.smtp_loopback_plaintext_auth,
        )

    def new_alert_evaluator(self) -> AlertEvaluator:
        s = self.settings
        mail = AlertMail(
            self.db, sender=self.ingestor, from_address=s.alert_sender, ui_base=s.link_base
        )
        return AlertEvaluator(self.db, mail, AlertConfig(interval_seconds=s.alert_interval_seconds))

    def new_expiry(self) -> ExpiredRequests:
        return ExpiredRequests(self.db)

    def new_worker(self) -> DeliveryWorker:
        s = self.settings
        pool = SmtpClientPool(
            helo_name=s.hostname,
            max_per_destination=s.smtp_max_connections,
            connect_timeout=s.smtp_connect_timeout,
            command_timeout=s.smtp_command_timeout,
            verify_certificates=s.smtp_verify_certificates,
            ca_file=s.mta_sts_ca_file,
        )
        self._pools.append(pool)
        resolver = Resolver(nameserver=s.dns_nameserver)
        mta_sts = None
        if s.mta_sts:
            mta_sts = MtaSts(resolver, policy_url=s.mta_sts_policy_url, ca_file=s.mta_sts_ca_file)
            self._closers.append(mta_sts.close)
        deps = DeliveryDeps(
            routes=parse_routes(s.routes),
            transports=transport_table(
                pool, resolver, s.mx_port, shaper=Shaper(shaping_config(s)), mta_sts=mta_sts
            ),
            bounce_domain=s.bounce_domain,
        )
        worker = DeliveryWorker(
            self.db,
            deps,
            schedule=RetrySchedule(
                first_seconds=s.retry_first_seconds,
                max_interval_seconds=s.retry_max_interval_seconds,
                max_age_seconds=s.retry_max_age_seconds,
            ),
            config=WorkerConfig(
                batch_size=s.worker_batch_size,
                concurrency=s.worker_concurrency,
                lease_seconds=s.lease_seconds,
                poll_seconds=s.worker_poll_seconds,
            ),
        )
        return worker

    async def close(self) -> None:
        for pool in self._pools:
            await pool.close()
        for close in self._closers:
            await close()
        await self.db.close()


def host_port(name: str, addr: str) -> tuple[str, int]:
    """A `host:port` setting split, brackets off an IPv6 host; SetupError naming the setting."""
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise SetupError(f"{name} {addr!r} is not host:port")
    return host.strip("[]"), int(port)


def build_platform(settings: Settings) -> Platform:
    # Fail fast on a bad MISIVA_ROUTES, before anything starts.
    parse_routes(settings.routes)
    db = Database(settings.database_url)
    directory = ServerDirectory(db)
    ingestor = Ingestor(
        db, directory, link_base=settings.link_base, bounce_domain=settings.bounce_domain
    )
    releaser = ScheduledReleaser(
        db,
        ingestor,
        directory,
        config=ReleaserConfig(
            batch_size=settings.scheduled_batch_size,
            lease_seconds=settings.scheduled_lease_seconds,
            poll_seconds=settings.scheduled_poll_seconds,
        ),
    )
    return Platform(
        settings=settings, db=db, directory=directory, ingestor=ingestor, releaser=releaser
    )
