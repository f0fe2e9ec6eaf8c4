"""No form makes a page fail: a sweep of arbitrary form data over every route that changes
something (POST, and the API's PUT/PATCH/DELETE if any), as an anonymous visitor, a desk user
and an administrator, finds no 500, and a refused request leaves the database as it was.

The forms get their real field names, often starting from a valid submission, with values a
person or a script might send: long text, 1e23, -1, 99999999999, 2027-02-30, unicode, empty,
missing and repeated fields; the profile import gets arbitrary bytes, Latin-1 and made-up
YAML and CSV. Each form carries the session's CSRF token (unless the example drops or
changes it) and the rate limits are off for this app, so the data reaches the routes' code;
the test app raises instead of answering 500.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.routing import Rule
from wtforms import EmailField
from wtforms.fields.core import UnboundField

from storage.config import Settings
from storage.links import sign
from storage.models import Base, User
from storage.profile_edits import EDITABLE_FIELDS
from storage.subscriptions import subscribe
from storage.users import create_api_token
from tests.storage.factories import make_call, make_profile
from tests.storage.match_factories import make_match
from tests.webui.logins import PASSWORD, add_user, csrf_token, login
from tests.webui.test_input_guard import PARAMS
from webui import create_app
from webui.admin.forms import ConfirmForm as AdminConfirmForm
from webui.admin.forms import CreateUserForm, RoleForm
from webui.auth import SESSION_VERSION_KEY, LoginForm
from webui.calendar.forms import FeedForm
from webui.desk.forms import BulkForm, ReviewForm
from webui.projects.forms import ConfirmForm, ImportForm, ProfileForm
from webui.sources.forms import CrawlNowForm
from webui.subscriptions.forms import ButtonForm, FollowForm, ManageRequestForm, SubscribeForm

EXAMPLES_PER_ROUTE = 80  # with three roles, about a minute per database on two cores
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
VARIABLE = re.compile(r"<(?:[^:>]+:)?([^>]+)>")  # a rule's <converter:name> or <name>
# Not compared before and after a refusal: a token's "last used" (written when the token is
# checked, before the body is read), and what only the crawler and the scheduler write.
NOT_COMPARED = {"api_tokens", "apscheduler_jobs", "scheduler_leases", "job_runs", "crawl_runs",
                "call_changes", "call_deadlines", "match_runs", "matches"}  # fmt: skip
DESCRIPTION = "Klimaschutz-Austausch mit der Partnerstadt Bristol über kommunale Wärmeplanung."

# The form each route reads; a route missing here gets every form's fields.
FORMS: dict[str, type[FlaskForm]] = {
    "auth.login": LoginForm,
    "auth.logout": ButtonForm,
    "admin.create": CreateUserForm,
    "admin.change_role": RoleForm,
    "admin.deactivate": AdminConfirmForm,
    "admin.reactivate": AdminConfirmForm,
    "calendar.create_feed": FeedForm,
    "calendar.revoke_feed": FeedForm,
    "desk.review": ReviewForm,
    "desk.pair_review": ReviewForm,
    "desk.bulk": BulkForm,
    "projects.new": ProfileForm,
    "projects.edit": ProfileForm,
    "projects.archive": ConfirmForm,
    "projects.unarchive": ConfirmForm,
    "projects.import_file": ImportForm,
    "sources.crawl": CrawlNowForm,
    "subscriptions.search": SubscribeForm,
    "subscriptions.call": FollowForm,
    "subscriptions.new": SubscribeForm,
    "subscriptions.manage_request": ManageRequestForm,
    "subscriptions.manage_unsubscribe": ButtonForm,
    "subscriptions.manage_delete": ButtonForm,
    "subscriptions.unsubscribe_post": ButtonForm,
    "subscriptions.dismiss": ButtonForm,
}
# Fields a route reads beside its form's.
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "subscriptions.search": PARAMS,
    "subscriptions.manage_unsubscribe": ("subscription",),
    "subscriptions.unsubscribe_post": ("List-Unsubscribe",),
}
PROFILE_FORM = {
    "name": "Klimapartnerschaft Bristol",
    "kind": "project",
    "description": DESCRIPTION,
    "themes": "Klimaschutz\nStädtepartnerschaft",
    "department": "Umwelt",
    "applicant_type": "municipality",
    "region": "DE-NI",
    "language": "de",
    "budget_min_eur": "1000",
    "budget_max_eur": "50000",
    "start_date": "2027-01-01",
    "end_date": "2027-12-31",
    "lead_time_days": "28",
    "partner_countries": "GB",
    "contact_email": "umwelt@example.org",
}
SUBSCRIBE_FORM = {"email": "anna@example.org", "frequency": "weekly", "mail_language": "de"}
# A submission each route accepts, for the sweep to change a few fields of.
VALID: dict[str, dict[str, str]] = {
    "auth.login": {"email": "desk@example.org", "password": PASSWORD},
    "admin.create": {"email": "neu@example.org", "name": "Neu", "role": "staff",
                     "department": "Umwelt", "password": PASSWORD, "confirm": PASSWORD},
    "admin.change_role": {"role": "staff"},  # prefixed with the user's id when sent
    "desk.review": {"status": "reviewing", "assignee": "desk@example.org", "note": "Passt."},
    "desk.pair_review": {"status": "shortlisted", "note": "Passt."},
    "desk.bulk": {"call_id": "1", "status": "reviewing", "assignee": "Umwelt"},
    "projects.new": {"slug": "neu", **PROFILE_FORM},
    "projects.edit": PROFILE_FORM,
    "subscriptions.search": {**SUBSCRIBE_FORM, "q": "Klima"},
    "subscriptions.call": {"email": "anna@example.org", "mail_language": "en"},
    "subscriptions.new": SUBSCRIBE_FORM,
    "subscriptions.manage_request": {"email": "anna@example.org"},
    "subscriptions.unsubscribe_post": {"List-Unsubscribe": "One-Click"},
}  # fmt: skip

LINE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=40)
# Long text, often just over a limit of a form or a column (40, 64, 100, 200, 300, 320, …).
LONG = st.builds(
    lambda piece, n: ((piece or "ä") * n)[:n],
    LINE,
    st.sampled_from([41, 65, 101, 201, 301, 321, 501, 1001, 2001, 5001]) | st.integers(100, 3000),
)
NUMBERS = ("1e23", "-1", "0", "99999999999", "9" * 40, "2147483648", "-2147483649", "1.5",
           "NaN", "inf", "-0", "0x1F", "1_000", " 12 ", "١٢")  # fmt: skip
DATES = ("2027-02-30", "2027-13-01", "0000-00-00", "9999-12-31", "10000-01-01", "2027-2-3",
         "31.12.2027", "2027-12-31T25:00", "-2027-01-01")  # fmt: skip
WORDS = ("", " ", "project", "partner", "municipality", "ngo", "new", "reviewing",
         "shortlisted", "not_relevant", "applied", "weekly", "daily", "immediate", "de", "en",
         "fr", "admin", "desk", "staff", "2", "3", "DE-NI", "EU", "One-Click", "y", "on", "1",
         "true", "desk@example.org", "admin@example.org",
         "' OR 1=1 --", "%", "\\", "\u202eevil", "😀" * 5, "Ä" * 201, "a\x00b", "a\x1bb",
         "- [x]\n- {a: 1}", "a;b;;c", "\n\n")  # fmt: skip
EMAILS = ("desk@example.org", "Desk@Example.ORG", "anna@example.org", "a@b", "@", "a@b.c" * 80,
          "x@" + "y" * 320 + ".de", "ä@ü.de", "a@b@c.de", " anna@example.org ")  # fmt: skip
VALUE = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(DATES),
    st.sampled_from(WORDS),
    LINE,
    LONG,
    st.integers().map(str),
    st.floats().map(str),
)
# What a YAML file may hold beside text: numbers, booleans, nothing, dates, lists, mappings.
YAML_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | VALUE
    | st.dates().map(lambda d: d.isoformat()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(LINE, inner, max_size=2),
    max_leaves=5,
)  # fmt: skip
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | VALUE,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(LINE, inner, max_size=3),
    max_leaves=6,
)
PROFILE_COLUMNS = ("slug", "active", *EDITABLE_FIELDS)
GOOD_ROW = {"slug": "eins", "kind": "project", "name": "Eins", "description": DESCRIPTION,
            "applicant_type": "municipality"}  # fmt: skip


@dataclass(frozen=True)
class World:
    """What the routes' addresses can name: ids by kind, slugs and signed links."""

    ids: dict[str, list[int]]
    slugs: list[str]
    tokens: list[str]
    api_tokens: dict[str, str]
    users: dict[str, int]


def _value_of(field: UnboundField) -> st.SearchStrategy[str]:
    """Arbitrary values, more often of the kind the field takes: numbers for a number, dates
    for a date, addresses for an email, its choices for a select."""
    kwargs = field.kwargs
    shown = kwargs.get("render_kw") or {}
    if kwargs.get("coerce") is int or shown.get("inputmode") == "numeric":
        return st.sampled_from(NUMBERS) | st.integers().map(str) | VALUE
    if shown.get("type") == "date":
        return st.sampled_from(DATES) | st.dates().map(str) | VALUE
    if issubclass(field.field_class, EmailField):
        return st.sampled_from(EMAILS) | st.emails() | VALUE
    choices = [c.value if hasattr(c, "value") else c[0] for c in kwargs.get("choices") or ()]
    if choices:
        return st.sampled_from([str(c) for c in choices]) | VALUE
    return VALUE


def _form_fields(form: type[FlaskForm]) -> dict[str, st.SearchStrategy[str]]:
    return {
        name: _value_of(field)
        for c in reversed(form.__mro__)
        for name, field in vars(c).items()
        if isinstance(field, UnboundField)
    }


def _fields(endpoint: str, world: World) -> dict[str, st.SearchStrategy[str]]:
    """The fields a route reads, each with the values to try in it."""
    if endpoint in FORMS:
        fields = _form_fields(FORMS[endpoint])
    else:
        fields = {n: v for form in FORMS.values() for n, v in _form_fields(form).items()}
    if endpoint == "admin.change_role":  # the role form of each user's row is prefixed
        fields = {f"u{user_id}-role": fields["role"] for user_id in world.ids["user_id"]}
    extra = dict.fromkeys(EXTRA_FIELDS.get(endpoint, ()), VALUE)
    return {**fields, **extra, "csrf_token": VALUE, "unknown": VALUE}


def _valid(endpoint: str, user_id: int) -> dict[str, str]:
    values = VALID.get(endpoint, {})
    if endpoint == "admin.change_role":
        return {f"u{user_id}-role": values["role"]}
    return dict(values)


def _changing_rules(app: Flask) -> list[Rule]:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "POST" in (rule.methods or ())
            or (rule.rule.startswith("/api/") and CHANGING & set(rule.methods or ()))
        ),
        key=lambda rule: rule.rule,
    )


def _world(engine: Engine, secret: str) -> World:
    """Profiles (one archived), ranked calls, a user of each role with an API token, and a
    confirmed subscription with its signed links."""
    with Session(engine) as session:
        klima = make_profile(session, "klima", name="Klimaschutz", department="Umwelt")
        make_profile(session, "alt", name="Archiviert", active=False)
        soon = datetime.now(UTC) + timedelta(days=40)
        calls = [make_call(session, title=f"Call {n}", status="open", deadlines=[soon])
                 for n in range(2)]  # fmt: skip
        matches = [
            make_match(session, klima, c, score=0.5, rank=r,
                       explanation={"terms": [["Klimaschutz", 0.3]]})
            for r, c in enumerate(calls, start=1)
        ]  # fmt: skip
        users = {
            role: add_user(session, f"{role}@example.org", role, department="Umwelt")
            for role in ("admin", "desk", "staff")
        }
        api_tokens = {role: create_api_token(session, user) for role, user in users.items()}
        subscription = subscribe(session, email="anna@example.org", kind="profile",
                                 profile_id=klima.id, frequency="weekly", language="de",
                                 confirmed=True)  # fmt: skip
        session.commit()
        tokens = [
            sign(secret, "manage", {"e": "anna@example.org"}),
            sign(secret, "unsubscribe", {"s": subscription.id}),
            sign(secret, "dismiss", {"s": subscription.id, "c": calls[0].id}),
        ]
        return World(
            ids={
                "user_id": [u.id for u in users.values()],
                "match_id": [m.id for m in matches],
                "call_id": [c.id for c in calls],
            },
            slugs=["klima", "alt", "eu_funding_tenders"],
            tokens=tokens,
            api_tokens=api_tokens,
            users={role: u.id for role, u in users.items()},
        )


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every table a page may write, to compare before and after a refusal."""
    with engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
            if table.name not in NOT_COMPARED
        }


@st.composite
def _profile_file(draw: st.DrawFn) -> tuple[bytes, str]:
    """A profile file as someone might upload it: its bytes and its name."""
    kind = draw(st.sampled_from(["csv", "yaml", "bytes", "latin-1"]))
    rows = draw(
        st.lists(
            st.builds(
                lambda start, changes: {**start, **changes},
                st.sampled_from([GOOD_ROW, {}]),
                st.dictionaries(st.sampled_from(PROFILE_COLUMNS), YAML_VALUE, max_size=4),
            ),
            max_size=3,
        )
    )
    if kind == "bytes":
        data, suffix = draw(st.binary(max_size=400)), draw(st.sampled_from([".csv", ".yaml"]))
    elif kind == "yaml":
        data, suffix = yaml.safe_dump(rows, allow_unicode=True).encode(), ".yaml"
    else:
        out = io.StringIO()
        header = list(dict.fromkeys(k for row in rows for k in row)) or ["slug"]
        header += draw(st.lists(st.sampled_from(["", "slug", "extra"]), max_size=2))
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow([json.dumps(v) if not isinstance(v, str) else v
                             for v in (row.get(k, "") for k in header)])  # fmt: skip
        text = out.getvalue()
        data = text.encode("latin-1", "replace") if kind == "latin-1" else text.encode()
        suffix = ".csv"
    name = draw(st.sampled_from([f"profile{suffix}", f"P{suffix.upper()}", "profile.txt", ""]))
    return data, name


def _mostly(known: list[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of ``known`` three times in four (an address that exists reaches the form)."""
    return st.one_of(st.sampled_from(known), st.sampled_from(known), st.sampled_from(known), other)


@st.composite
def _request(draw: st.DrawFn, rule: Rule, world: World, role: str, csrf: str) -> dict[str, Any]:
    """One request to ``rule``: method, filled-in path, and a form, a file or a JSON body."""
    values: dict[str, str] = {}
    for name in rule.arguments:
        if name in world.ids:
            values[name] = str(draw(_mostly(world.ids[name], st.integers(0, 2**31 - 1))))
        else:
            known = world.tokens if name == "token" else world.slugs
            values[name] = quote(draw(_mostly(known, LINE.filter(bool))), safe="")
    path = VARIABLE.sub(lambda found: values[found.group(1)], rule.rule)
    method = draw(st.sampled_from(sorted(CHANGING & set(rule.methods or ()))))
    request: dict[str, Any] = {"method": method, "path": path}
    if rule.rule.startswith("/api/"):
        token = world.api_tokens.get(role, "")
        secret = draw(st.sampled_from([token, token + "x", ""]) if token else st.just(""))
        body = draw(
            st.fixed_dictionaries(
                {}, optional={f: JSON_VALUE for f in ("status", "note", "assignee")}
            )
            | JSON_VALUE
        )
        raw = draw(st.just(json.dumps(body)) | st.binary(max_size=200))
        request.update(data=raw, content_type="application/json",
                       headers={"Authorization": f"Bearer {secret}"} if secret else {})  # fmt: skip
        return request
    fields = _fields(rule.endpoint, world)
    names = sorted(fields)
    valid = draw(st.integers(0, 3)) > 0  # mostly a valid form with a few fields changed
    start = {
        "csrf_token": csrf,
        **(_valid(rule.endpoint, world.users.get(role, 0)) if valid else {}),
    }
    changed = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    changes = {name: draw(fields[name]) for name in changed}
    dropped = draw(st.sets(st.sampled_from(names), max_size=2))
    repeated = [
        (name, draw(fields[name])) for name in draw(st.lists(st.sampled_from(names), max_size=2))
    ]
    pairs: list[tuple[str, Any]] = [
        (k, v) for k, v in {**start, **changes}.items() if k not in dropped
    ] + repeated
    if rule.endpoint == "projects.import_file" and draw(st.integers(0, 4)):
        data, name = draw(_profile_file())
        pairs.append(("file", (io.BytesIO(data), name)))
    request["data"] = MultiDict(pairs)
    return request


@pytest.fixture
def sweep_app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    """The app without rate limits: a sweep's hundreds of posts would soon be only 429s."""
    app = create_app(settings, test_config={"TESTING": True, "RATELIMIT_ENABLED": False})
    yield app
    app.extensions["foerderdesk.engine"].dispose()


@pytest.mark.parametrize("role", ["anonymous", "desk", "admin"])
def test_arbitrary_form_data_on_every_changing_route_never_makes_a_500(
    sweep_app: Flask, engine: Engine, role: str
) -> None:
    world = _world(engine, sweep_app.config["SECRET_KEY"])
    rules = _changing_rules(sweep_app)
    assert len(rules) > 20  # the sweep reaches the whole app
    client: FlaskClient = sweep_app.test_client()
    if role != "anonymous":
        assert login(client, f"{role}@example.org").status_code == 302
    csrf = csrf_token(client, "/subscriptions/manage")
    with client.session_transaction() as cookie:
        signed_in = dict(cookie)  # the signed-in user's keys (if any) and the CSRF secret

    def sign_in_again() -> bool:
        """Undo what an example did to the sweep's user (sign out, demote, deactivate; or,
        anonymous, sign in), so that every example runs as ``role``; whether a row changed."""
        changed = False
        with engine.begin() as conn:
            if role != "anonymous":
                changed = (
                    conn.execute(
                        update(User)
                        .where(User.id == world.users[role], or_(~User.active, User.role != role))
                        .values(active=True, role=role)
                    ).rowcount
                    > 0
                )
            version = conn.scalar(
                select(User.session_version).where(User.id == world.users.get(role, 0))
            )
        with client.session_transaction() as cookie:
            cookie.clear()
            cookie.update(signed_in)
            if role != "anonymous":
                cookie[SESSION_VERSION_KEY] = version
        return changed

    # The rows after the last example: the next one's "before", unless that changed them.
    stored: list[dict[str, list[tuple[Any, ...]]] | None] = [None]

    def sweep(request: dict[str, Any]) -> None:
        if sign_in_again() or stored[0] is None:
            stored[0] = _snapshot(engine)
        before = stored[0]
        method, path = request.pop("method"), request.pop("path")
        response = client.open(path, method=method, **request)
        assert response.status_code < 500, (method, path, request)
        stored[0] = _snapshot(engine)
        if response.status_code >= 400:
            assert stored[0] == before, (method, path, response.status_code)

    # Route by route, so that each gets its share of examples (and a failure names it).
    for rule in rules:
        settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))(
            given(request=_request(rule, world, role, csrf))(sweep)
        )()  # fmt: skip
