"""The words the pages use for the stored vocabularies, in one place.

German for now; these tables are where the translations will hook in.
"""

from __future__ import annotations

STATUS = {
    "open": "offen",
    "forthcoming": "demnächst",
    "closed": "geschlossen",
    "withdrawn": "zurückgezogen",
}
APPLICANT = {
    "municipality": "Kommune",
    "public_body": "Öffentliche Einrichtung",
    "ngo": "Verein / NGO",
    "company": "Unternehmen / KMU",
    "research": "Hochschule / Forschung",
    "education": "Bildungseinrichtung",
    "individual": "Privatperson",
    "unstated": "nicht angegeben",
}
FUNDER_TYPE = {
    "eu": "EU",
    "federal": "Bund",
    "state": "Land",
    "municipal": "Kommune",
    "foundation": "Stiftung",
    "other": "Sonstige",
}
DEADLINE_MODEL = {
    "single": "eine Frist",
    "two_stage": "zweistufig (Stufe 2 nur auf Einladung)",
    "multiple_cutoff": "mehrere Stichtage",
    "rolling": "laufend, ohne Frist",
    "recurring": "jährlich wiederkehrend",
    "none": "keine Frist angegeben",
}
LANGUAGE = {"de": "Deutsch", "en": "Englisch"}
SORT = {"relevance": "Relevanz", "deadline": "Frist", "newest": "neueste"}
