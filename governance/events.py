"""The append-only, hash-chained event log."""

import json
from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone

from governance.models import Event, EventChainHead


def _normalised(data: dict | None) -> dict:
    # Store exactly what JSON gives back, so the hash computed now matches the one verified later.
    return json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))


@transaction.atomic
def record_event(*, actor, verb: str, target: models.Model, data: dict | None = None, request=None) -> Event:
    """Append one event. Runs in the caller's transaction, so the event exists if and only if the change does.

    The chain head row is locked for the rest of the transaction: appends are serialised and each
    event stores the hash of the one before it.
    """
    head, _created = EventChainHead.objects.select_for_update().get_or_create(id=1)
    event = Event(
        seq=head.last_seq + 1,
        created_at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        request=request,
        data=_normalised(data),
        prev_hash=head.last_hash,
    )
    event.hash = event.compute_hash()
    event.save(force_insert=True)
    head.last_seq, head.last_hash = event.seq, event.hash
    head.save(update_fields=["last_seq", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify_event_chain(batch_size: int = 5000) -> ChainReport:
    """Recompute every hash and link; report the first event that was altered, removed or inserted."""
    previous_hash = "0" * 64
    expected_seq = 1
    checked = 0
    for event in Event.objects.order_by("seq").iterator(chunk_size=batch_size):
        if event.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, f"event #{expected_seq} is missing")
        if event.prev_hash != previous_hash:
            return ChainReport(False, checked, event.seq, f"event #{event.seq} does not link to the event before it")
        if event.compute_hash() != event.hash:
            return ChainReport(False, checked, event.seq, f"event #{event.seq} was altered after it was written")
        previous_hash = event.hash
        expected_seq += 1
        checked += 1
    head = EventChainHead.objects.filter(id=1).first()
    if head and (head.last_seq != checked or head.last_hash != previous_hash):
        return ChainReport(False, checked, checked + 1, "the newest events were removed")
    return ChainReport(True, checked)
