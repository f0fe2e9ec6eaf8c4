"""The words the pages, feeds and exports use for the stored vocabularies, in one place.

Values are lazy: each is translated into the reader's language when it is shown.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS = {
    "open": _l("open"),
    "forthcoming": _l("forthcoming"),
    "closed": _l("closed"),
    "withdrawn": _l("withdrawn"),
}
APPLICANT = {
    "municipality": _l("Municipality"),
    "public_body": _l("Public body"),
    "ngo": _l("Association / NGO"),
    "company": _l("Company / SME"),
    "research": _l("University / research"),
    "education": _l("Educational institution"),
    "individual": _l("Private person"),
    "unstated": _l("not stated"),
}
FUNDER_TYPE = {
    "eu": _l("EU"),
    "federal": _l("Federal government"),
    "state": _l("Federal state (Land)"),
    "municipal": _l("Municipality"),
    "foundation": _l("Foundation"),
    "other": _l("Other"),
}
DEADLINE_MODEL = {
    "single": _l("one deadline"),
    "two_stage": _l("two stages (stage 2 by invitation only)"),
    "multiple_cutoff": _l("several cut-off dates"),
    "rolling": _l("rolling, no deadline"),
    "recurring": _l("recurring every year"),
    "none": _l("no deadline stated"),
}
LANGUAGE = {"de": _l("German"), "en": _l("English")}
SORT = {"relevance": _l("relevance"), "deadline": _l("deadline"), "newest": _l("newest")}
CHANGED_FIELD = {
    "title": _l("Title"),
    "summary": _l("Summary"),
    "description": _l("Description"),
    "conditions": _l("Conditions"),
    "url": _l("Link to the call"),
    "funder": _l("Funder"),
    "programme": _l("Programme"),
    "call_identifier": _l("Identifier"),
    "type_of_action": _l("Type of action"),
    "status": _l("Status"),
    "opening_date": _l("Opening date"),
    "deadline_model": _l("Deadline model"),
    "deadlines": _l("Deadlines"),
    "next_deadline": _l("Next deadline"),
    "budget_eur": _l("Total budget"),
    "grant_min_eur": _l("Minimum grant"),
    "grant_max_eur": _l("Maximum grant"),
    "expected_grants": _l("Expected number of grants"),
    "funding_rate": _l("Funding rate"),
    "eligible_applicants": _l("Who may apply"),
}
# Long texts: a change is told, not quoted.
TEXT_FIELDS = frozenset({"summary", "description", "conditions"})
# The stages of the desk's review pipeline, in the pipeline's order.
REVIEW_STATUS = {
    "new": _l("New"),
    "reviewing": _l("Reviewing"),
    "shortlisted": _l("Shortlisted"),
    "forwarded": _l("Forwarded"),
    "applying": _l("Application in progress"),
    "submitted": _l("Submitted"),
    "awarded": _l("Awarded"),
    "rejected": _l("Rejected"),
    "not_relevant": _l("Not relevant"),
}
