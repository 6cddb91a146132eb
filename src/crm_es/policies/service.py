"""The automations as one background worker: the policies' rounds and the outbox's
deliveries, while this process holds the lead (policies/leader.py).

Woken by saves in this process (a policy may have something to react to, a message may
have been queued), at the next message's due time, and otherwise every ``poll_seconds``
(another process may have written)."""

from __future__ import annotations

import logging
import threading

from crm_es.clock import Clock
from crm_es.policies.leader import Leadership
from crm_es.policies.outbox import Dispatcher
from crm_es.policies.runtime import PolicyRunner
from crm_es.policies.senders import SmsSender, SmtpSender, WebhookSender
from crm_es.settings import Settings
from crm_es.store import EventStore

log = logging.getLogger("crm_es.policies")


def dispatcher_for(store: EventStore, clock: Clock, settings: Settings) -> Dispatcher:
    """The outbox with the senders the settings configure (a channel with none fails and
    is retried, so configuring it later delivers what waited)."""
    senders: dict[str, object] = {"webhook": WebhookSender()}
    if settings.smtp_url:
        senders["email"] = SmtpSender(settings.smtp_url, settings.smtp_from)
    if settings.sms_url:
        senders["sms"] = SmsSender(settings.sms_url)
    return Dispatcher(store, clock, senders)  # type: ignore[arg-type]


class Automations:
    def __init__(self, runner: PolicyRunner, dispatcher: Dispatcher, leadership: Leadership | None) -> None:
        self.runner, self.dispatcher, self.leadership = runner, dispatcher, leadership
        self._wake = threading.Event()

    def wake(self, _position: int | None = None) -> None:
        self._wake.set()

    def run_once(self) -> tuple[int, int]:
        """One round: the policies read the log to its end, then the due messages go out.
        Returns (events reacted to, messages sent)."""
        return self.runner.run_once(), self.dispatcher.run_once()

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        active = None
        try:
            while not stop.is_set():
                leading = self.leadership is None or self.leadership.acquire()
                if leading != active:
                    log.warning("policies: %s", "active" if leading else "standing by (another runner is active)")
                    active = leading
                wait = poll_seconds
                if leading:
                    try:
                        self.run_once()
                        due = self.dispatcher.next_due()
                        if due is not None:
                            wait = min(wait, max((due - self.dispatcher.clock.now()).total_seconds(), 0.0))
                    except Exception:  # the store went away: keep trying, places and rows are safe in it
                        log.exception("automation round failed")
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            if self.leadership is not None:
                self.leadership.release()
