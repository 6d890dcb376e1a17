"""Notifications against real local servers: an aiosmtpd SMTP server and an HTTP webhook receiver."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import nbflow
from nbflow import api
from nbflow.notify.deliveries import Event, Notifier, redact_url
from nbflow.workflows import schema
from nbflow.workflows.project import Project

PASSWORD = "s3cr3t-pw"
TOKEN = "tok-abc123"

FAILED = Event(
    kind="on_failure",
    workflow="demo",
    run_id=12,
    state="failed",
    time="2026-11-25T10:00:00.000+01:00",
    failed_tasks=(
        {
            "key": "clean",
            "state": "failed",
            "error": {"ename": "ValueError", "evalue": "bad row 7"},
        },
        {"key": "publish", "state": "upstream_failed", "error": None},
    ),
    artifacts="/srv/project/.nbflow/runs/12",
    message="2 tasks did not succeed",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- SMTP -------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping every message it accepts, with who logged in to send it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "message": email.message_from_bytes(envelope.content, policy=email.policy.default),
                "login": session.auth_data if session.authenticated else None,
            }
        )
        return "250 OK"


def accept_user_pw(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"user",
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def smtp_auth_server() -> Iterator[tuple[Controller, Inbox]]:
    """A server that insists on AUTH, accepted over a plain connection (no TLS in tests)."""
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=accept_user_pw,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield controller, inbox
    controller.stop()


def smtp_url(controller: Controller, userinfo: str = "") -> str:
    return f"smtp://{userinfo}{controller.hostname}:{controller.port}"


# -- webhooks ---------------------------------------------------------------------------------


class Hooks:
    """What the webhook server received; `/slow` answers only once `release` is set."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        self.release = threading.Event()


@pytest.fixture
def hook_server() -> Iterator[tuple[str, Hooks]]:
    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's hook name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hooks.requests.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
            )
            if self.path.startswith("/slow"):
                hooks.arrived.set()
                hooks.release.wait(30)  # bounded, so a failing test cannot hang the suite
            status = 500 if self.path.startswith("/fail") else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hooks
    hooks.release.set()
    server.shutdown()
    server.server_close()


def webhook(url: str) -> schema.WebhookDestination:
    return schema.WebhookDestination(webhook=url)


def mailto(address: str) -> schema.EmailDestination:
    return schema.EmailDestination(email=address)


def warnings_text(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "nbflow.notify.deliveries" and r.levelno == logging.WARNING
    ]


# -- mail -------------------------------------------------------------------------------------


def test_mail_arrives_with_subject_recipient_sender_and_facts(smtp_server, monkeypatch, caplog):
    controller, inbox = smtp_server
    monkeypatch.setenv("NBFLOW_SMTP_URL", smtp_url(controller))
    monkeypatch.setenv("NBFLOW_MAIL_FROM", "robot@nbflow.test")
    caplog.set_level(logging.INFO, logger="nbflow.notify.deliveries")
    notifier = Notifier()

    notifier.send([mailto("data-team@example.com")], FAILED)
    deliveries = notifier.wait(timeout=30)

    assert [(d.kind, d.target, d.event, d.ok, d.error) for d in deliveries] == [
        ("email", "data-team@example.com", "on_failure", True, None)
    ]
    assert notifier.deliveries == deliveries
    [got] = inbox.messages
    assert got["mail_from"] == "robot@nbflow.test"
    assert got["rcpt_tos"] == ["data-team@example.com"]
    message = got["message"]
    assert message["Subject"] == "[nbflow] demo run 12 failed"
    assert message["To"] == "data-team@example.com"
    assert message["From"] == "robot@nbflow.test"
    body = message.get_content()
    for fact in (
        "demo",
        "12",
        "clean: failed",
        "ValueError: bad row 7",
        "publish: upstream_failed",
        "/srv/project/.nbflow/runs/12",
        "2 tasks did not succeed",
    ):
        assert fact in body
    assert any(
        r.levelno == logging.INFO and "data-team@example.com" in r.getMessage()
        for r in caplog.records
    )


def test_one_message_per_address_and_task_level_subject(smtp_server):
    controller, inbox = smtp_server
    event = Event(
        kind="on_failure",
        workflow="demo",
        run_id=12,
        state="failed",
        time="2026-11-25T10:00:00.000+01:00",
        task="clean",
        attempt=2,
    )
    notifier = Notifier(smtp_url=smtp_url(controller), mail_from="nbflow@test")

    notifier.send([mailto("a@example.com"), mailto("b@example.com")], event)

    assert all(d.ok for d in notifier.wait(timeout=30))
    assert sorted(m["rcpt_tos"][0] for m in inbox.messages) == ["a@example.com", "b@example.com"]
    subjects = {m["message"]["Subject"] for m in inbox.messages}
    assert subjects == {"[nbflow] demo run 12: task clean attempt 2 failed"}
    assert "Task:      clean (attempt 2)" in inbox.messages[0]["message"].get_content()


# aiosmtpd rightly warns that AUTH without TLS is unsafe; this server only listens on 127.0.0.1.
plain_auth_ok = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@plain_auth_ok
def test_smtp_login_with_user_and_password_from_the_url(smtp_auth_server, caplog):
    controller, inbox = smtp_auth_server
    notifier = Notifier(smtp_url=smtp_url(controller, f"user:{PASSWORD}@"), mail_from="n@test")

    notifier.send([mailto("ops@example.com")], FAILED)

    [delivery] = notifier.wait(timeout=30)
    assert delivery.ok, delivery.error
    [got] = inbox.messages
    assert got["login"] == b"user"


@plain_auth_ok
def test_wrong_smtp_password_fails_without_showing_it(smtp_auth_server, caplog):
    controller, inbox = smtp_auth_server
    wrong = "wr0ng-pw-xyz"
    notifier = Notifier(smtp_url=smtp_url(controller, f"user:{wrong}@"), mail_from="n@test")

    notifier.send([mailto("ops@example.com")], FAILED)

    [delivery] = notifier.wait(timeout=30)
    assert not delivery.ok
    assert "SMTPAuthenticationError" in delivery.error
    assert f"smtp://user:***@127.0.0.1:{controller.port}" in delivery.error
    assert wrong not in delivery.error and "\n" not in delivery.error
    [warning] = warnings_text(caplog)
    assert wrong not in warning and "ops@example.com" in warning
    assert inbox.messages == []


def test_without_smtp_url_mail_is_a_failed_delivery(monkeypatch, caplog):
    monkeypatch.delenv("NBFLOW_SMTP_URL", raising=False)
    notifier = Notifier()

    notifier.send([mailto("ops@example.com")], FAILED)

    [delivery] = notifier.wait(timeout=30)
    assert (delivery.kind, delivery.ok) == ("email", False)
    assert "NBFLOW_SMTP_URL is not set" in delivery.error
    assert any("NBFLOW_SMTP_URL is not set" in w for w in warnings_text(caplog))


def test_smtp_connection_refused_is_a_failed_delivery_without_password(caplog):
    port = free_port()  # nothing listens there
    notifier = Notifier(smtp_url=f"smtp://user:{PASSWORD}@127.0.0.1:{port}", mail_from="n@test")

    notifier.send([mailto("ops@example.com")], FAILED)

    [delivery] = notifier.wait(timeout=30)
    assert not delivery.ok
    assert "ConnectionRefusedError" in delivery.error and "\n" not in delivery.error
    assert PASSWORD not in delivery.error
    [warning] = warnings_text(caplog)
    assert PASSWORD not in warning and "ConnectionRefusedError" in warning


# -- webhooks ---------------------------------------------------------------------------------


def test_webhook_posts_the_exact_payload_as_json(hook_server, caplog):
    base, hooks = hook_server
    caplog.set_level(logging.INFO, logger="nbflow.notify.deliveries")
    notifier = Notifier()

    notifier.send([webhook(f"{base}/hook")], FAILED)

    [delivery] = notifier.wait(timeout=30)
    assert (delivery.kind, delivery.target, delivery.event) == (
        "webhook",
        f"{base}/hook",
        "on_failure",
    )
    assert delivery.ok and delivery.error is None
    [got] = hooks.requests
    assert got["path"] == "/hook"
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["headers"]["User-Agent"] == f"nbflow/{nbflow.__version__}"
    assert got["json"] == {
        "event": "on_failure",
        "kind": "on_failure",
        "workflow": "demo",
        "run_id": 12,
        "state": "failed",
        "time": "2026-11-25T10:00:00.000+01:00",
        "task": None,
        "attempt": None,
        "failed_tasks": [
            {
                "key": "clean",
                "state": "failed",
                "error": {"ename": "ValueError", "evalue": "bad row 7"},
            },
            {"key": "publish", "state": "upstream_failed", "error": None},
        ],
        "artifacts": "/srv/project/.nbflow/runs/12",
        "message": "2 tasks did not succeed",
    }
    assert got["json"] == FAILED.payload()
    assert any(
        r.levelno == logging.INFO for r in caplog.records if r.name == "nbflow.notify.deliveries"
    )


def test_webhook_http_500_is_a_failed_delivery_without_token(hook_server, caplog):
    base, hooks = hook_server
    notifier = Notifier()

    notifier.send([webhook(f"{base}/fail?token={TOKEN}")], FAILED)

    [delivery] = notifier.wait(timeout=30)
    assert not delivery.ok
    assert delivery.error == "HTTP 500 Internal Server Error"
    assert delivery.target == f"{base}/fail?token=***"
    assert hooks.requests[0]["path"] == f"/fail?token={TOKEN}"  # the real token was sent
    [warning] = warnings_text(caplog)
    assert "HTTP 500" in warning and TOKEN not in warning


def test_webhook_connection_refused_is_a_failed_delivery_without_secrets(caplog):
    url = f"http://user:{PASSWORD}@127.0.0.1:{free_port()}/hook?token={TOKEN}&x=1"
    notifier = Notifier()

    notifier.send([webhook(url)], FAILED)

    [delivery] = notifier.wait(timeout=30)
    assert not delivery.ok
    assert delivery.error.startswith("ConnectionError:") and "refused" in delivery.error
    assert "\n" not in delivery.error
    assert delivery.target.endswith("/hook?token=***&x=***")
    assert delivery.target.startswith("http://user:***@127.0.0.1:")
    [warning] = warnings_text(caplog)
    for text in (delivery.error, delivery.target, warning):
        assert PASSWORD not in text and TOKEN not in text


def test_webhook_timeout_is_a_failed_delivery(hook_server):
    base, hooks = hook_server
    notifier = Notifier(timeout=0.2)

    notifier.send([webhook(f"{base}/slow")], FAILED)

    [delivery] = notifier.wait(timeout=30)
    hooks.release.set()
    assert not delivery.ok
    assert "Timeout" in delivery.error and "\n" not in delivery.error


def test_send_returns_while_the_delivery_is_still_blocked(hook_server):
    base, hooks = hook_server
    notifier = Notifier()

    notifier.send([webhook(f"{base}/slow")], FAILED)

    # send() is back, yet the receiver cannot have answered: it waits for `release`.
    assert not hooks.release.is_set()
    assert notifier.deliveries == []
    assert hooks.arrived.wait(30)  # the POST is in flight on a background thread
    assert notifier.wait(timeout=0.05) == []  # wait() honours its timeout while blocked
    hooks.release.set()
    [delivery] = notifier.wait(timeout=30)
    assert delivery.ok and delivery.target == f"{base}/slow"
    assert notifier.deliveries == [delivery]


def test_mixed_destinations_each_get_a_delivery(hook_server, smtp_server):
    base, hooks = hook_server
    controller, inbox = smtp_server
    notifier = Notifier(smtp_url=smtp_url(controller), mail_from="n@test")

    notifier.send([mailto("ops@example.com"), webhook(f"{base}/hook"), "bogus"], FAILED)  # type: ignore[list-item]

    deliveries = notifier.wait(timeout=30)
    assert sorted((d.kind, d.ok) for d in deliveries) == [
        ("email", True),
        ("unknown", False),
        ("webhook", True),
    ]
    assert len(inbox.messages) == 1 and len(hooks.requests) == 1


# -- redaction and wording --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("smtp://user:pass@mail.example.com:587", "smtp://user:***@mail.example.com:587"),
        ("smtps://user@mail.example.com", "smtps://user@mail.example.com"),
        ("https://h.example/hook?token=abc&flag", "https://h.example/hook?token=***&flag"),
        ("https://u:p%40ss@h.example/x?a=1&b=2#frag", "https://u:***@h.example/x?a=***&b=***#frag"),
        ("http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"),
        # Secrets in the path: Slack's and Discord's webhook URLs.
        (
            "https://hooks.slack.com/services/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",
            "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/***",
        ),
        (
            "https://discord.com/api/webhooks/123456789012345678/Xy9_kL2-mN4pQ6rS8tU0vW2yZ4",
            "https://discord.com/api/webhooks/123456789012345678/***",
        ),
        (
            "https://h.example/hooks/run-ended-notification",
            "https://h.example/hooks/run-ended-notification",
        ),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("kind", "state", "subject"),
    [
        ("on_start", "running", "[nbflow] demo run 12 started"),
        ("on_success", "success", "[nbflow] demo run 12 succeeded"),
        ("on_failure", "failed", "[nbflow] demo run 12 failed"),
        ("on_failure", "timed_out", "[nbflow] demo run 12 timed out"),
        ("on_duration_warning", "running", "[nbflow] demo run 12 is running longer than expected"),
    ],
)
def test_subjects(kind, state, subject):
    event = Event(kind=kind, workflow="demo", run_id=12, state=state, time="t")
    assert event.subject() == subject
    assert event.payload()["event"] == kind


# -- notifications of real runs ------------------------------------------------------------


@pytest.mark.kernel
def test_a_failed_run_notifies_mail_and_webhook_and_records_the_deliveries(
    project, smtp_server, hook_server, monkeypatch
):
    controller, inbox = smtp_server
    base, hooks = hook_server
    path_token = "aB3dE5fG7hI9jK1lM3nO5pQ7"  # a Slack-style secret in the path
    dead = f"http://user:s3cret@127.0.0.1:{free_port()}/hook/{path_token}?token=abcdef"
    monkeypatch.setenv("NBFLOW_SMTP_URL", smtp_url(controller))
    monkeypatch.setenv("NBFLOW_MAIL_FROM", "nbflow@example.org")
    project.workflow(
        "alerts",
        f"""
        notifications:
          on_start: [{{webhook: "{base}/start"}}]
          on_failure: [{{email: team@example.org}}, {{webhook: "{base}/run-ended"}}, {{webhook: "{dead}"}}]
          on_success: [{{webhook: "{base}/success"}}]
        tasks:
          - key: boom
            notebook: notebooks/fail.ipynb
            notifications: {{on_failure: [{{webhook: "{base}/task"}}]}}
          - {{key: fine, notebook: notebooks/ok.ipynb}}
        """,
    )
    code, doc = project.cli_json("run", "alerts")
    assert code == 1 and doc["state"] == "failed"
    paths = sorted(r["path"] for r in hooks.requests)
    assert paths == ["/run-ended", "/start", "/task"]
    failure = next(r["json"] for r in hooks.requests if r["path"] == "/run-ended")
    assert failure["workflow"] == "alerts" and failure["run_id"] == doc["id"]
    assert failure["state"] == "failed"
    assert failure["failed_tasks"] == [
        {"key": "boom", "state": "failed", "error": {"ename": "ValueError", "evalue": "boom"}}
    ]
    assert failure["artifacts"].endswith(".nbflow/runs/alerts/1")
    task_hook = next(r["json"] for r in hooks.requests if r["path"] == "/task")
    assert task_hook["task"] == "boom" and task_hook["attempt"] == 1
    (mail,) = inbox.messages
    assert mail["rcpt_tos"] == ["team@example.org"]
    assert "alerts run 1 failed" in mail["message"]["Subject"]
    assert "ValueError: boom" in mail["message"].get_content()
    # Every delivery is recorded with the run; the dead one failed without its secrets.
    shown = doc["notifications"]
    assert shown == api.show(Project(project.root), 1)["notifications"]
    assert len(shown) == 5
    bad = [n for n in shown if not n["ok"]]
    assert len(bad) == 1 and "s3cret" not in bad[0]["target"] and "abcdef" not in bad[0]["target"]
    assert "s3cret" not in (bad[0]["error"] or "") and "abcdef" not in (bad[0]["error"] or "")
    assert path_token not in bad[0]["target"] and path_token not in (bad[0]["error"] or "")
    assert {(n["event"], n["kind"]) for n in shown if n["ok"]} == {
        ("on_start", "webhook"),
        ("on_failure", "webhook"),
        ("on_failure", "email"),
    }


@pytest.mark.kernel
def test_duration_warning_fires_once_without_stopping_the_run(project, hook_server):
    base, hooks = hook_server
    project.workflow(
        "long",
        f"""
        duration_warning: 1s
        notifications: {{on_duration_warning: [{{webhook: "{base}/long-run"}}]}}
        tasks:
          - {{key: nap, notebook: notebooks/sleepy.ipynb, parameters: {{seconds: 3}}}}
        """,
    )
    doc = api.run(Project(project.root), "long")
    assert doc["state"] == "success"
    (hook,) = [r for r in hooks.requests if r["path"] == "/long-run"]
    assert hook["json"]["event"] == "on_duration_warning" and hook["json"]["state"] == "running"
