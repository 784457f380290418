"""Sample text for the text classification demo: short customer support tickets.

Generated, not downloaded: ``support_tickets(n)`` is the same list on every call and on every
machine (a seeded ``random.Random``, no hash randomization). Each ticket has a primary class
(billing, shipping, technical or account) and about one in four also touches a second one
("charged twice *and* the parcel is late"), so the same drop serves single-label and
multi-label classification.

``ticket_drop(n, task_type)`` is the drop as JSON Lines, one ticket a line:
``{"ticket_id": "T-00042", "text": "...", "gt-local-answer": ...}``. ``gt-local-answer`` is
the reference answer the local AWS's simulated workers read (real Ground Truth passes it
through and ignores it): the primary class for ``TextMultiClass``, the list of classes for
``TextMultiClassMultiLabel``, as ``gt_provider.local.annotations`` documents.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

TICKET_CLASSES = ("billing", "shipping", "technical", "account")
REFERENCE_FIELD = "gt-local-answer"
#: Most tickets ``support_tickets`` can make before texts would repeat.
MAX_TICKETS = 5000

_PRODUCTS = ("headphones", "desk lamp", "coffee grinder", "router", "yoga mat", "backpack", "monitor", "kettle")
_CARRIERS = ("DHL", "UPS", "the courier", "the post office")
_APPS = ("the mobile app", "the website", "the desktop app", "the checkout page")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend")

# One sentence per ticket and class; {order}, {amount}, {product}, {carrier}, {app}, {day},
# {code} are filled in per ticket, so that no two tickets read the same.
_SENTENCES: dict[str, tuple[str, ...]] = {
    "billing": (
        "I was charged twice for order {order}.",
        "My invoice for order {order} shows {amount} instead of the price on the site.",
        "Please refund the {amount} I paid for the {product}, I cancelled it on {day}.",
        "My card was declined when paying for the {product} but the money left my account.",
        "Why is there a {amount} fee on my last statement?",
        "The discount code {code} was not applied to order {order}.",
    ),
    "shipping": (
        "Order {order} has not arrived, the tracking page has not moved since {day}.",
        "{carrier} left my {product} at the wrong address.",
        "The {product} from order {order} arrived broken in a crushed box.",
        "Can I change the delivery address of order {order} before it ships?",
        "My parcel with the {product} is stuck at customs since {day}.",
        "Only half of order {order} was delivered, the {product} is missing.",
    ),
    "technical": (
        "{app} crashes every time I open my orders.",
        "The {product} will not connect to wifi after the update on {day}.",
        "I get error {code} when I try to upload a photo in {app}.",
        "The page freezes at the payment step in {app}.",
        "The firmware update for my {product} fails at 90 percent.",
        "Search in {app} returns nothing since {day}.",
    ),
    "account": (
        "I cannot log in, the reset email for my account never comes.",
        "Please delete my account and all my data.",
        "Someone changed the email address on my account on {day}.",
        "How do I merge my two accounts? One has order {order}.",
        "My account is locked after three wrong passwords on {day}.",
        "I want to change the name on my account, the form rejects code {code}.",
    ),
}
_JOINERS = (" Also, ", " On top of that, ", " And ", " Besides, ")


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    text: str
    #: The classes the ticket is about, the primary one first.
    classes: tuple[str, ...]

    def reference_answer(self, task_type: str) -> str | list[str]:
        """What the simulated workers should answer for this ticket in a ``task_type`` job."""
        if task_type == "TextMultiClass":
            return self.classes[0]
        if task_type == "TextMultiClassMultiLabel":
            return list(self.classes)
        raise ValueError(f"no reference answers for {task_type}; use TextMultiClass or TextMultiClassMultiLabel")


def _sentence(klass: str, rng: random.Random, number: int) -> str:
    fill = {
        "order": f"#{100000 + number * 7919 % 900000}",
        "amount": f"${rng.randint(5, 400)}.{rng.randint(0, 99):02d}",
        "product": rng.choice(_PRODUCTS),
        "carrier": rng.choice(_CARRIERS),
        "app": rng.choice(_APPS),
        "day": rng.choice(_DAYS),
        "code": f"E{rng.randint(100, 999)}",
    }
    sentence = rng.choice(_SENTENCES[klass]).format(**fill)
    return sentence[0].upper() + sentence[1:]


def support_tickets(count: int, seed: int = 6) -> list[Ticket]:
    """``count`` tickets, classes in turn (balanced), a quarter of them about two classes."""
    if not 1 <= count <= MAX_TICKETS:
        raise ValueError(f"count must be from 1 to {MAX_TICKETS}, got {count}")
    rng = random.Random(seed)
    tickets = []
    for number in range(count):
        primary = TICKET_CLASSES[number % len(TICKET_CLASSES)]
        text = _sentence(primary, rng, number)
        classes: tuple[str, ...] = (primary,)
        if rng.random() < 0.25:
            second = rng.choice([name for name in TICKET_CLASSES if name != primary])
            extra = _sentence(second, rng, number + count)
            text += rng.choice(_JOINERS) + extra[0].lower() + extra[1:]
            classes = (primary, second)
        ticket_id = f"T-{number:05d}"
        # The ticket id makes every text unique: the text is the object's identity in the ledger.
        tickets.append(Ticket(ticket_id, f"[{ticket_id}] {text}", classes))
    return tickets


def ticket_drop(count: int, task_type: str = "TextMultiClass") -> str:
    """The demo drop as JSON Lines: ``ticket_id``, ``text`` and the reference answer for ``task_type``."""
    return "".join(
        json.dumps(
            {"ticket_id": t.ticket_id, "text": t.text, REFERENCE_FIELD: t.reference_answer(task_type)},
            ensure_ascii=False,
        )
        + "\n"
        for t in support_tickets(count)
    )


def upload_ticket_drop(s3_client: Any, bucket: str, prefix: str, count: int, key: str, task_type: str) -> int:
    """Write a drop of ``count`` tickets (at most ``MAX_TICKETS``) to ``key`` under ``prefix``."""
    if not key.startswith(prefix):
        raise ValueError(f"the drop {key!r} must be under the seeded prefix {prefix!r}")
    count = min(count, MAX_TICKETS)
    s3_client.put_object(Bucket=bucket, Key=key, Body=ticket_drop(count, task_type).encode())
    print(f"Seeded {count} sample tickets ({task_type} reference answers) into s3://{bucket}/{key}")
    return count
