"""The read side's answers to the facts a command needs from outside its aggregate
(commands/context.py's `Lookups`): each read first catches the projector up with the log,
so a decision sees every event saved before it."""

from __future__ import annotations

from uuid import UUID

from crm_es.projections.runner import Projector


class ReadSideLookups:
    """Facts a command needs from the read side, read after catching up with the log."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def open_deals_in_stage(self, stage_id: UUID) -> int:
        self.projector.catch_up()
        with self.projector.read_side.cursor() as c:
            row = c.execute("SELECT count(*) FROM deals WHERE stage_id = ? AND status = 'open'", [str(stage_id)]).fetchone()
            return row[0] if row else 0

    def deals_naming(self, contact_id: UUID) -> list[UUID]:
        self.projector.catch_up()
        with self.projector.read_side.cursor() as c:
            rows = c.execute("SELECT DISTINCT deal_id FROM deal_contacts WHERE contact_id = ? ORDER BY deal_id",
                             [str(contact_id)]).fetchall()
            return [row[0] for row in rows]
