"""Notifications: delivering run and task events by email and webhook, in the background.

A notification must never fail or delay a run (spec: Notifications), so `Notifier.send` only
starts daemon threads and returns; every outcome, good or bad, becomes a `Delivery` that the
runner records with the run. Secrets in URLs (passwords, query values) are redacted before
anything is logged, recorded or shown.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from .. import __version__
from ..workflows import schema

SMTP_URL_ENV = "NBFLOW_SMTP_URL"
MAIL_FROM_ENV = "NBFLOW_MAIL_FROM"
REDACTED = "***"

_log = logging.getLogger("nbflow.notify.deliveries")

# Words for a subject line; on_failure is spelled from the state, since it covers timeouts too.
_VERBS = {
    "on_start": "started",
    "on_success": "succeeded",
    "on_duration_warning": "is running longer than expected",
}

# `scheme://user:password@` anywhere in a text, e.g. inside an exception message.
_USERINFO_RE = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]*@")
# `?name=value` / `&name=value`: the value may be a token, whatever the name is.
_QUERY_VALUE_RE = re.compile(r"(?P<pre>[?&][^=&\s#?]+=)[^&\s#'\"()<>]*")
# Below this length a query value is not worth hunting for as a bare string (`page=1` would turn
# every "1" in a message into ***); the `name=value` form above is still always redacted.
_MIN_BARE_QUERY_SECRET = 4
# A path segment that looks like a token (Slack's /services/T…/B…/<token>, Discord's
# /webhooks/<id>/<token>): long, of token characters, with letters and digits mixed.
_PATH_TOKEN_RE = re.compile(r"^(?=.*[A-Za-z])(?=.*[0-9])[A-Za-z0-9_~.+=-]{16,}$")
_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Event:
    """What happened: a run (or one task attempt) started, succeeded, failed or runs long."""

    kind: str  # "on_start" | "on_success" | "on_failure" | "on_duration_warning"
    workflow: str
    run_id: int
    state: str  # run state, or the attempt's state for a task-level event
    time: str  # ISO 8601
    task: str | None = None  # set for task-level events (one per attempt)
    attempt: int | None = None
    failed_tasks: tuple[dict[str, Any], ...] = ()  # {"key", "state", "error": {ename, evalue}|None}
    artifacts: str = ""  # path (or link) of the run's artifact folder
    message: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body of a webhook: every field, plus `event` (= kind) for routing."""
        return {
            "event": self.kind,
            "kind": self.kind,
            "workflow": self.workflow,
            "run_id": self.run_id,
            "state": self.state,
            "time": self.time,
            "task": self.task,
            "attempt": self.attempt,
            # Copied so a receiver-side mutation can't reach back into the frozen event.
            "failed_tasks": [copy.deepcopy(dict(t)) for t in self.failed_tasks],
            "artifacts": self.artifacts,
            "message": self.message,
        }

    def _verb(self) -> str:
        if self.kind == "on_failure":
            return "timed out" if self.state == "timed_out" else "failed"
        return _VERBS.get(self.kind, f"{self.kind} ({self.state})")

    def subject(self) -> str:
        """One line, e.g. `[nbflow] demo run 12 failed`."""
        head = f"[nbflow] {self.workflow} run {self.run_id}"
        if self.task is None:
            return f"{head} {self._verb()}"
        attempt = f" attempt {self.attempt}" if self.attempt is not None else ""
        return f"{head}: task {self.task}{attempt} {self._verb()}"

    def text(self) -> str:
        """A plain-text mail body with the same facts as the payload."""
        lines = [self.subject(), "", f"Workflow:  {self.workflow}", f"Run:       {self.run_id}"]
        if self.task is not None:
            attempt = f" (attempt {self.attempt})" if self.attempt is not None else ""
            lines.append(f"Task:      {self.task}{attempt}")
        lines += [f"Event:     {self.kind}", f"State:     {self.state}", f"Time:      {self.time}"]
        if self.message:
            lines.append(f"Message:   {self.message}")
        if self.failed_tasks:
            lines += ["", "Failed tasks:"]
            for t in self.failed_tasks:
                lines.append(f"  - {t.get('key')}: {t.get('state')}")
                error = t.get("error")
                if error:
                    lines.append(f"      {error.get('ename')}: {error.get('evalue')}")
        lines += ["", f"Artifacts: {self.artifacts or '(none)'}", ""]
        return "\n".join(lines)


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one event to one destination."""

    kind: str  # "email" | "webhook"
    target: str  # address, or the URL with secrets redacted
    event: str  # Event.kind
    ok: bool
    error: str | None  # one line, secrets redacted
    time: str  # ISO 8601 when the attempt finished


@dataclass(frozen=True)
class _SmtpServer:
    host: str
    port: int
    implicit_tls: bool  # smtps://; plain smtp:// upgrades with STARTTLS when offered
    user: str | None
    password: str | None
    shown: str  # the URL with its password redacted, for messages


def redact_url(url: str) -> str:
    """`url` with the password of `user:password@`, every query value and token-like path
    segments (a webhook's secret part, as in Slack's and Discord's URLs) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal; fall back to the text rules
        return _redact_patterns(url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{REDACTED}@{hostport}"
    query = "&".join(
        f"{piece.split('=', 1)[0]}={REDACTED}" if "=" in piece else piece
        for piece in parts.query.split("&")
    )
    path = "/".join(
        REDACTED if _PATH_TOKEN_RE.match(segment) else segment for segment in parts.path.split("/")
    )
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def _url_secrets(url: str) -> list[str]:
    """The strings of `url` that must not be shown, raw and percent-decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if parts.password:
        found.append(parts.password)  # a password is secret at any length
    for piece in parts.query.split("&"):
        value = piece.split("=", 1)[1] if "=" in piece else ""
        if len(value) >= _MIN_BARE_QUERY_SECRET:
            found.append(value)
    found.extend(seg for seg in parts.path.split("/") if _PATH_TOKEN_RE.match(seg))
    return found + [unquote(s) for s in found if unquote(s) != s]


def _redact_patterns(text: str) -> str:
    text = _USERINFO_RE.sub(lambda m: f"{m['pre']}{REDACTED}@", text)
    return _QUERY_VALUE_RE.sub(lambda m: f"{m['pre']}{REDACTED}", text)


def _redact_text(text: str, secrets: Iterable[str]) -> str:
    """`text` as one line, without URL credentials, query values or any of `secrets`."""
    text = _redact_patterns(text)
    # Longest first, so a secret containing another is not left half-shown.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = " ".join(text.split())
    if len(text) > _MAX_ERROR_CHARS:
        text = text[: _MAX_ERROR_CHARS - 1] + "…"
    return text


def _now() -> str:
    # Same form as clock.iso: local time with its UTC offset, milliseconds.
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


class _Failed(Exception):
    """A failure whose message is already the whole story (no exception type in front)."""


def _describe(exc: BaseException) -> str:
    """`Type: message`, preferring the root cause that requests/urllib3 wrap in layers."""
    if isinstance(exc, _Failed):
        return str(exc)
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", None)  # urllib3 MaxRetryError -> the real cause
        if isinstance(reason, BaseException):
            return f"{type(exc).__name__}: {reason}"
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
        return f"{type(exc).__name__}: {exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _parse_smtp_url(url: str) -> _SmtpServer:
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _Failed(f"{SMTP_URL_ENV} is not a valid URL: {shown}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps") or not parts.hostname:
        raise _Failed(f"{SMTP_URL_ENV} must look like smtp[s]://[user:pass@]host[:port]: {shown}")
    return _SmtpServer(
        host=parts.hostname,
        port=port or (465 if scheme == "smtps" else 25),
        implicit_tls=scheme == "smtps",
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        shown=shown,
    )


class Notifier:
    """Sends events to destinations on background threads; see `send` and `wait`."""

    def __init__(
        self,
        *,
        smtp_url: str | None = None,
        mail_from: str | None = None,
        timeout: float = 10.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.smtp_url = smtp_url if smtp_url is not None else os.environ.get(SMTP_URL_ENV) or None
        self.mail_from = (
            mail_from or os.environ.get(MAIL_FROM_ENV) or f"nbflow@{socket.gethostname()}"
        )
        self.timeout = timeout
        self.logger = logger or _log
        self.deliveries: list[Delivery] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def send(
        self,
        destinations: Iterable[schema.EmailDestination | schema.WebhookDestination],
        event: Event,
    ) -> None:
        """Start delivering `event` to each destination and return at once; never raises."""
        try:
            for destination in destinations:
                self._start(destination, event)
        except Exception as exc:  # a bad iterable must not reach the run either
            self._record("unknown", "", event, exc, secrets=())

    def wait(self, timeout: float | None = None) -> list[Delivery]:
        """Wait (at most `timeout` s in all) for the deliveries started so far; all finished ones."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return list(self.deliveries)

    # -- one delivery per thread --------------------------------------------------------------

    def _start(self, destination: Any, event: Event) -> None:
        if isinstance(destination, schema.EmailDestination):
            kind, address_or_url, target = "email", destination.email, destination.email
        elif isinstance(destination, schema.WebhookDestination):
            kind, address_or_url = "webhook", destination.webhook
            target = redact_url(address_or_url)
        else:
            error = TypeError(f"unknown destination {destination!r}")
            self._record("unknown", "", event, error, ())
            return
        thread = threading.Thread(
            target=self._deliver,
            args=(kind, target, address_or_url, event),
            name=f"nbflow-notify-{kind}",
            daemon=True,  # an unfinished notification must not keep the process alive
        )
        with self._lock:
            self._threads.append(thread)
        try:
            thread.start()
        except Exception as exc:  # e.g. "can't start new thread"
            with self._lock:
                self._threads.remove(thread)
            self._record(kind, target, event, exc, _url_secrets(address_or_url))

    def _deliver(self, kind: str, target: str, address_or_url: str, event: Event) -> None:
        secrets = _url_secrets(self.smtp_url or "") + _url_secrets(address_or_url)
        try:
            if kind == "email":
                self._email(address_or_url, event)
            else:
                self._webhook(address_or_url, event)
        except Exception as exc:
            self._record(kind, target, event, exc, secrets)
        else:
            self._record(kind, target, event, None, secrets)

    def _record(
        self,
        kind: str,
        target: str,
        event: Event,
        exc: BaseException | None,
        secrets: Iterable[str],
    ) -> None:
        error = None if exc is None else _redact_text(_describe(exc), secrets)
        delivery = Delivery(kind, target, event.kind, exc is None, error, _now())
        with self._lock:
            self.deliveries.append(delivery)
        try:
            if error is None:
                self.logger.info("notification %s sent by %s to %s", event.kind, kind, target)
            else:
                self.logger.warning(
                    "notification %s by %s to %s not delivered: %s", event.kind, kind, target, error
                )
        except Exception:  # a broken log handler must not lose the recorded delivery
            pass

    def _webhook(self, url: str, event: Event) -> None:
        response = requests.post(
            url,
            json=event.payload(),
            headers={"Content-Type": "application/json", "User-Agent": f"nbflow/{__version__}"},
            timeout=self.timeout,
        )
        response.close()
        if response.status_code >= 400:
            # Only the status: a response body could echo the URL or its token back.
            raise _Failed(f"HTTP {response.status_code} {response.reason or ''}".strip())

    def _email(self, address: str, event: Event) -> None:
        if not self.smtp_url:
            raise _Failed(f"{SMTP_URL_ENV} is not set; cannot send mail")
        server = _parse_smtp_url(self.smtp_url)
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = address
        message["Subject"] = event.subject()
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.mail_from.rpartition("@")[2] or None)
        message.set_content(event.text())
        try:
            self._smtp_send(server, message)
        except Exception as exc:
            # Name the server, so "connection refused" says which one.
            raise _Failed(f"via {server.shown}: {_describe(exc)}") from exc

    def _smtp_send(self, server: _SmtpServer, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if not server.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()  # the server's capabilities may differ once encrypted
            if server.user:
                smtp.login(server.user, server.password or "")
            smtp.send_message(message)
