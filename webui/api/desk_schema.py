"""The desk API's part of the OpenAPI document: its paths, the shapes of its answers and of a
review change, and the bearer token it takes.

Built from the constants the code uses (statuses, kinds, limits), so the document cannot
offer a value the API refuses; ``webui.api.openapi`` merges it into the whole document.
"""

from __future__ import annotations

from typing import Any

from matcher.reasons import MAX_LINES
from storage.models import APPLICANT_TYPES, CALL_STATUSES, PROFILE_KINDS, REVIEW_STATUSES
from storage.reviews import MAX_NOTE_LENGTH
from webui.api.desk import MAX_ASSIGNEE_LENGTH

Schema = dict[str, Any]
SECURITY_SCHEME = "deskToken"
SECURITY_SCHEMES: Schema = {
    SECURITY_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "A token made by an administrator with `foerderdesk users token EMAIL` "
        "(revoked with `--revoke`); it acts with that user's role. Only its hash is stored.",
    }
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, **extra: Any) -> Schema:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}, **extra}  # fmt: skip


def _json(description: str, schema: Schema, **extra: Any) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema,
                                                                         **extra}}}  # fmt: skip


def _explanation() -> Schema:
    lines = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_LINES}
    term = {
        "type": "object",
        "required": ["word", "profile_word"],
        "properties": {
            "word": {"type": "string", "description": "The word as the call writes it."},
            "profile_word": {"type": ["string", "null"],
                             "description": "The profile's own word where the bilingual "
                                            "bridge made the link (`Städtepartnerschaft` for "
                                            "`town twinning`); null where both use one word."},
        },
    }  # fmt: skip
    return {
        "type": "object",
        "description": "Why the call was ranked for the profile, as the pages and emails say "
        "it, in the request's language (English unless `Accept-Language` asks for German).",
        "required": ["lang", "terms", "reasons", "cautions", "deadline"],
        "properties": {
            "lang": {"type": "string", "enum": ["de", "en"]},
            "terms": {"type": "array", "items": term,
                      "description": "The words profile and call share, best first."},
            "reasons": lines | {"description": "Why the call fits."},
            "cautions": lines | {"description": "What speaks against it or needs checking "
                                                "first (never listed as a reason)."},
            "deadline": {"type": ["string", "null"],
                         "description": "When the call is due, in the deadline's own time "
                                        "zone; null if the explanation has no deadline."},
        },
    }  # fmt: skip


def schemas() -> dict[str, Schema]:
    """The desk API's shapes, named for ``components/schemas``."""
    text = {"type": "string"}
    moment = {"type": "string", "format": "date-time"}
    profile = {
        "type": "object",
        "description": "A city project or partner organisation calls are matched against.",
        "required": ["slug", "name", "kind", "applicant_type", "department", "legal_form",
                     "language", "themes", "keywords", "matches_url"],
        "properties": {
            "slug": text | {"description": "The profile's short name, used in addresses."},
            "name": text,
            "kind": {"type": "string", "enum": list(PROFILE_KINDS),
                     "description": "`project` of the city, or `partner` organisation."},
            "applicant_type": {"type": "string", "enum": list(APPLICANT_TYPES)},
            "department": text | {"description": "The city department (projects); may be empty."},
            "legal_form": text | {"description": "Legal form (partners); may be empty."},
            "language": text,
            "themes": {"type": "array", "items": text},
            "keywords": {"type": "array", "items": text},
            "matches_url": text | {"format": "uri",
                                   "description": "This profile's ranked calls in the API."},
        },
    }  # fmt: skip
    match = {
        "type": "object",
        "description": "A call ranked for a profile, with where the desk stands with it. The "
        "`id` changes when the profile is re-ranked; `call_id` and the profile do not.",
        "required": ["id", "call_id", "profile", "title", "score", "rank", "review_status",
                     "assignee", "assignee_label", "explanation", "eligibility_unknown",
                     "call_status", "next_deadline", "url", "page_url", "first_matched_at"],
        "properties": {
            "id": {"type": "integer", "description": "The match, for `POST /matches/{id}/review`."},
            "call_id": {"type": "integer", "description": "The call, as in `GET /calls/{id}`."},
            "profile": text | {"description": "The profile's slug."},
            "title": text,
            "score": {"type": "number", "minimum": 0},
            "rank": {"type": "integer", "minimum": 1, "description": "1 is the best match."},
            "review_status": {"type": "string", "enum": list(REVIEW_STATUSES),
                              "description": "The review pipeline's stage; `new` until someone "
                                             "reviews the call."},
            "assignee": {"type": ["string", "null"],
                         "description": "A person's email or a department, as "
                                        "`POST /matches/{id}/review` takes it; null for nobody."},
            "assignee_label": {"type": ["string", "null"],
                               "description": "The assignee as the pages show it: the "
                                              "person's name, or the department."},
            "explanation": _ref("Explanation"),
            "eligibility_unknown": {"type": "boolean",
                                    "description": "True when the call does not say who may "
                                                   "apply."},
            "call_status": {"type": "string", "enum": list(CALL_STATUSES)},
            "next_deadline": _or_null(moment),
            "url": text | {"format": "uri", "description": "The call at its source."},
            "page_url": text | {"format": "uri", "description": "This service's page of the call."},
            "first_matched_at": moment | {"description": "When the call first matched the "
                                                         "profile (kept across re-ranking)."},
        },
    }  # fmt: skip
    change = {
        "type": "object",
        "description": "What to change; at least one field. A field left out or null stays as "
        "it is. A note is added to the review's timeline, never replacing an earlier one.",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "status": {"type": ["string", "null"], "enum": [*REVIEW_STATUSES, None]},
            "note": {"type": ["string", "null"], "maxLength": MAX_NOTE_LENGTH},
            "assignee": {"type": ["string", "null"], "maxLength": MAX_ASSIGNEE_LENGTH,
                         "description": "An active user's email, else a department's name; "
                                        "an empty string assigns nobody."},
        },
    }  # fmt: skip
    return {
        "Profile": profile,
        "ProfileList": {"type": "object", "required": ["items"],
                        "properties": {"items": {"type": "array", "items": _ref("Profile")}}},
        "Match": match,
        "MatchList": {"type": "object", "required": ["items"],
                      "properties": {"items": {"type": "array", "items": _ref("Match")}}},
        "Explanation": _explanation(),
        "ReviewChange": change,
    }  # fmt: skip


def _or_null(schema: Schema) -> Schema:
    return {**schema, "type": [schema["type"], "null"]}


def _secured(operation: Schema) -> Schema:
    """An operation that needs a token, with the answers every such operation may give."""
    responses = operation["responses"]
    responses["401"] = _error(
        "No token, or one that is unknown or revoked, or whose user is deactivated.",
        headers={"WWW-Authenticate": {"description": "`Bearer realm=…`, as RFC 6750 says.",
                                      "schema": {"type": "string"}}},
    )  # fmt: skip
    return {**operation, "security": [{SECURITY_SCHEME: []}]}


def paths() -> dict[str, Schema]:
    """The desk API's paths, relative to the document's server."""
    slug = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "The profile's `slug`."}  # fmt: skip
    match_id = {"name": "match_id", "in": "path", "required": True,
                "schema": {"type": "integer"}, "description": "The match's `id`."}  # fmt: skip
    hidden = {"name": "include_not_relevant", "in": "query", "required": False,
              "schema": {"type": "boolean", "default": False},
              "description": "Also the calls marked `not_relevant` (`1`, `true`, `on` and "
                             "`yes` mean true)."}  # fmt: skip
    return {
        "/profiles": {"get": _secured({
            "operationId": "listProfiles",
            "summary": "The profiles you may read",
            "description": "Active profiles, city projects first: all of them for the desk "
            "and administrators, their department's for city staff.",
            "responses": {"200": _json("The profiles.", _ref("ProfileList"))},
        })},
        "/profiles/{slug}/matches": {"get": _secured({
            "operationId": "listProfileMatches",
            "summary": "A profile's ranked calls",
            "description": "Best first. Calls marked not relevant are left out unless asked "
            "for.",
            "parameters": [slug, hidden],
            "responses": {
                "200": _json("The ranked calls.", _ref("MatchList")),
                "403": _error("Your role may not read this profile's calls."),
                "404": _error("No profile has this slug."),
            },
        })},
        "/matches/{match_id}/review": {"post": _secured({
            "operationId": "reviewMatch",
            "summary": "Change a match's review",
            "description": "Sets the status or the assignee, or adds a note, as the desk's "
            "pages do: every change is recorded in the review's timeline (who, what, when) "
            "and a verdict re-ranks the profile. The desk and administrators change status "
            "and assignee; city staff add notes to their department's profiles.",
            "parameters": [match_id],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("ReviewChange"),
                "example": {"status": "shortlisted", "assignee": "Fachbereich Umwelt",
                            "note": "Fits the climate plan; check co-funding."}}}},
            "responses": {
                "200": _json("The match as it is now.", _ref("Match")),
                "400": _error("The body is not a JSON object, has an unknown field or status, "
                              "a value that is not a string or too long, or changes nothing."),
                "403": _error("Your role may not make this change."),
                "404": _error("No match has this id (re-ranking gives matches new ids)."),
            },
        })},
    }  # fmt: skip
