"""The mail templates: one Jinja2 template per kind of message and format (``.txt`` and
``.html`` under ``templates/mail/``), English message ids translated through the scheduler's
catalog with ``jinja2.ext.i18n``.

One template per kind, not one per language: the layout is written once and the German
lives in the catalog beside the web app's way of doing it, so the two languages cannot drift
apart in structure. The HTML is self-contained (inline styles, no remote images, no
tracking pixels).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from scheduler.mail_wording import translations

TEMPLATES = Path(__file__).parent / "templates"
_BLANK_LINES = re.compile(r"\n{3,}")


@cache
def environment(lang: str) -> Environment:
    """The template environment for ``lang`` (one per language: the translations installed
    into an environment are global to it)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(template: str, lang: str, /, **context: Any) -> tuple[str, str]:
    """The plain text and the HTML of message ``template`` ("digest", "change", ...)."""
    env = environment(lang)
    text = env.get_template(f"mail/{template}.txt").render(lang=lang, **context)
    html = env.get_template(f"mail/{template}.html").render(lang=lang, **context)
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n", html
