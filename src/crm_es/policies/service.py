"""The automations as one background worker: the policies' rounds and the outbox's
deliveries, while this process holds the lead (policies/leader.py).

The rounds run (policies/scheduler.py) at once when this process saved something (a
thread of their own), and by APScheduler at the next message's or timer's due time and
otherwise every ``poll_seconds`` (another process may have written). This loop only keeps the lead:
it starts the scheduler when it wins it, and stops it when it loses it.

A round woken by a save asks the store one thing when the save concerns no automation:
the log's new events (the policies read them once, together). The outbox is looked at
when those events could have changed it (a message or timer recorded, an automation
switched), when a reaction queued a message, and at every poll and due time: a command
that queues nothing does not pay for the dispatcher's queries."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from eventsourcing.utils import get_topic

from crm_es.aggregates.message import Message
from crm_es.aggregates.policy import PolicySettings
from crm_es.aggregates.timer import Timer
from crm_es.clock import Clock
from crm_es.policies.leader import Leadership
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.policies.runtime import PolicyRunner
from crm_es.policies.scheduler import AutomationScheduler, job_store_for, store_key
from crm_es.outbox.senders import SmsSender, SmtpSender, WebhookSender
from crm_es.settings import Settings
from crm_es.store import EventStore
from crm_es.store.outage import STORE, is_outage

log = logging.getLogger("crm_es.policies")

# The events recorded with a change to the outbox, or to what of it is due (a timer's
# automation switched off waits): a round that read one of them looks at the outbox.
OUTBOX_NEWS = (f"{get_topic(Message)}.", f"{get_topic(Timer)}.", get_topic(PolicySettings.Configured))


def dispatcher_for(store: EventStore, clock: Clock, settings: Settings) -> Dispatcher:
    """The outbox with the senders the settings configure (crm_es.channels): the messages
    of a channel with none wait, untouched, and go once it is configured."""
    senders: dict[str, object] = {"webhook": WebhookSender()}
    if settings.smtp_url:
        senders["email"] = SmtpSender(settings.smtp_url, settings.smtp_from)
    if settings.sms_url:
        senders["sms"] = SmsSender(settings.sms_url)
    return Dispatcher(store, clock, senders)  # type: ignore[arg-type]


class Automations:
    def __init__(self, runner: PolicyRunner, dispatcher: Dispatcher, leadership: Leadership | None,
                 data_dir: Path | None = None) -> None:
        self.runner, self.dispatcher, self.leadership = runner, dispatcher, leadership
        store = runner.store
        job_store: Callable = lambda: job_store_for(store, data_dir or Path.cwd() / "var")  # noqa: E731
        self.scheduler = AutomationScheduler(store_key(store), self.round, job_store)

    def wake(self, _position: int | None = None) -> None:
        self.scheduler.wake()

    def run_once(self) -> tuple[int, int]:
        """One round on its own (``crm-es policies --once``, tests): the policies read the
        log to its end, the due messages go out, and the places moved over passed-over
        events are written. Returns (events reacted to, messages sent)."""
        reacted, sent = self.runner.run_once(), self.dispatcher.run_once()
        self.runner.flush()
        return reacted, sent

    def round(self, woken: bool = False) -> None:
        """One round as the scheduler runs it (``woken``: by a save in this process, not the
        poll or a due time): then look again when the next thing is due."""
        try:
            self.runner.run_once()
            if woken and not self._outbox_news():
                return  # a save that concerns no message: the outbox is as the last look left it
            self.dispatcher.run_once()
            due = self.dispatcher.next_due()
            # Due by the injected clock; APScheduler waits the same span by the wall clock.
            self.scheduler.next_due_in(None if due is None else (due - self.dispatcher.clock.now()).total_seconds())
        except Exception as error:  # the store went away: the next round tries again, places and rows are safe in it
            if is_outage(error):
                STORE.failed(error)  # one line for the whole outage (store/outage.py)
            else:
                log.exception("automation round failed")

    def _outbox_news(self) -> bool:
        """Whether the round's reading could have changed what the outbox holds or what of
        it is due: a message queued by a reaction, a message's or timer's event, a switch."""
        return self.runner.queued or any(topic.startswith(OUTBOX_NEWS) for topic in self.runner.read_topics)

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        """Keep (or wait for) the lead until ``stop``; run the scheduler while leading."""
        active = None
        try:
            while not stop.is_set():
                leading = self.leadership is None or self.leadership.acquire()
                known = self.leadership is None or self.leadership.known  # not known: the store is out of reach
                if known and leading != active:
                    log.warning("policies: %s", "active" if leading else "standing by (another runner is active)")
                    active = leading
                try:
                    if leading and not self.scheduler.running:
                        self.runner.forget()  # another runner may have moved the places while this one did not lead
                        self.scheduler.start(poll_seconds)
                    elif not leading and self.scheduler.running:
                        self.scheduler.stop()
                except Exception as error:  # the job store is out of reach: try again at the next look
                    if is_outage(error):
                        STORE.failed(error)
                    else:
                        log.exception("policies: the scheduler could not start")
                    self.scheduler.stop()
                stop.wait(poll_seconds)
        finally:
            self.scheduler.stop()
            if active:
                self._flush()
            if self.leadership is not None:
                self.leadership.release()

    def _flush(self) -> None:
        """The places moved over passed-over events, written as the runner stops (while it
        still leads); lost in an outage, they cost a restart a second reading of them."""
        try:
            self.runner.flush()
        except Exception as error:
            if is_outage(error):
                STORE.failed(error)
            else:
                log.exception("policies: the places passed over could not be written")
