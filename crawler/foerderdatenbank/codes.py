"""The export's classifier codes and what they mean for a call.

A programme names its classifiers by links (``…/Categories/FDB/Foerdergebiet/de_ni``); the
codes are the last path segment. Labels are the site's own (its search form's filters);
regions become the codes the matcher filters on (``DE`` for "bundesweit", which covers
every Land, ``DE-NI`` for Niedersachsen).
"""

from __future__ import annotations

FOERDERART: dict[str, str] = {
    "zuschuss": "Zuschuss", "darlehen": "Darlehen", "buergschaft": "Bürgschaft",
    "beteiligung": "Beteiligung", "garantie": "Garantie", "sonstige": "Sonstige",
}  # fmt: skip

FOERDERBEREICH: dict[str, str] = {
    "arbeit": "Arbeit", "aus_weiterbildung": "Aus- & Weiterbildung",
    "aussenwirtschaft": "Außenwirtschaft", "beratung": "Beratung", "corona": "Corona-Hilfe",
    "digitalisierung": "Digitalisierung",
    "energieeffizienz_erneuerbare_energien": "Energieeffizienz & Erneuerbare Energien",
    "existenzgruendung_festigung": "Existenzgründung & -festigung",
    "forschung_innovation_themenoffen": "Forschung & Innovation (themenoffen)",
    "forschung_innovation_themenspezifisch": "Forschung & Innovation (themenspezifisch)",
    "frauenfoerderung": "Frauenförderung", "gesundheit_soziales": "Gesundheit & Soziales",
    "infrastruktur": "Infrastruktur", "kultur_medien_sport": "Kultur, Medien & Sport",
    "landwirtschaft_laendliche_entwicklung": "Landwirtschaft & Ländliche Entwicklung",
    "messen_ausstellungen": "Messen & Ausstellungen", "mobilitaet": "Mobilität",
    "regionalfoerderung": "Regionalförderung",
    "smart_cities_regionen": "Smart Cities & Regionen",
    "staedtebau_stadterneuerung": "Städtebau & Stadterneuerung",
    "umwelt_naturschutz": "Umwelt- & Naturschutz",
    "unternehmensfinanzierung": "Unternehmensfinanzierung",
    "wohnungsbau_modernisierung": "Wohnungsbau & Modernisierung",
}  # fmt: skip

# Who may apply: the site's labels, which crawler.normalize.applicants maps onto the
# project's vocabulary (Kommune → municipality, Verband/Vereinigung → ngo ...).
FOERDERBERECHTIGTE: dict[str, str] = {
    "bildungseinrichtung": "Bildungseinrichtung", "existenzgruenderin": "Existenzgründer/in",
    "forschungseinrichtung": "Forschungseinrichtung", "hochschule": "Hochschule",
    "kommune": "Kommune", "oeffentliche_einrichtung": "Öffentliche Einrichtung",
    "privatperson": "Privatperson", "unternehmen": "Unternehmen",
    "verband_vereinigung": "Verband/Vereinigung",
}  # fmt: skip

# Fördergebiet → ISO 3166 codes, as storage and the matcher's region rule use them.
FOERDERGEBIET: dict[str, str] = {
    "_bundesweit": "DE", "bundesweit": "DE",
    "baden_wuerttemberg": "DE-BW", "bayern": "DE-BY", "berlin": "DE-BE",
    "brandenburg": "DE-BB", "bremen": "DE-HB", "hamburg": "DE-HH", "hessen": "DE-HE",
    "mecklenburg_vorpommern": "DE-MV", "de_ni": "DE-NI", "niedersachsen": "DE-NI",
    "nordrhein_westfalen": "DE-NW", "rheinland_pfalz": "DE-RP", "saarland": "DE-SL",
    "sachsen": "DE-SN", "de_st": "DE-ST", "sachsen_anhalt": "DE-ST",
    "schleswig_holstein": "DE-SH", "thueringen": "DE-TH",
}  # fmt: skip

# The programme's level in its path decides the funder type.
FUNDER_TYPE_BY_LEVEL = {"Bund": "federal", "Land": "state", "EU": "eu"}


def labels(table: dict[str, str], codes: list[str]) -> list[str]:
    """The labels of ``codes``; a code the table does not know stands as it is."""
    return [table.get(code, code) for code in codes]
