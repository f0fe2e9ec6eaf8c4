"""How the admin's mail page names the outbox's states and the kinds of message."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# ``storage.outbox.outbox_counts``' keys, in the order a message goes through them.
OUTBOX_STATES = {
    "pending": (_l("Waiting"), _l("not tried yet")),
    "deferred": (_l("Retrying"), _l("a try failed for now; it is tried again later")),
    "sent": (_l("Sent"), _l("the mail server accepted it")),
    "failed": (_l("Failed"), _l("refused for good; never tried again")),
    "suppressed": (
        _l("Held back"),
        _l("not sent: the address is suppressed, or the subscription ended or is unconfirmed"),
    ),
}
# ``storage.models.NOTIFICATION_KINDS``.
MESSAGE_KINDS = {
    "confirm": _l("Confirmation"),
    "manage": _l("Manage link"),
    "digest": _l("Digest"),
    "change": _l("Change alert"),
    "reminder": _l("Deadline reminder"),
}
