"""Every quarantine reason code of the ingest with its Dutch and English text.

The quarantine's ``reason_text`` carries the detail of one row in English (which column, which
value); these are the texts of the codes themselves, for readers in either language. A code
``invalid_<column>`` (a pandera check of one column) is described from the column's name.
``tests/test_hostile_corpus.py`` checks that every code the ingest can give has both texts.
"""

from __future__ import annotations

REASONS: dict[str, tuple[str, str]] = {
    # files refused as a whole
    "no_profile": ("geen mappingprofiel past bij dit bestand", "no mapping profile matches the file"),
    "not_an_export": ("het bestand bevat binaire gegevens, geen export", "the file holds binary data, not an export"),
    "unreadable_encoding": ("het bestand heeft niet de tekenset van het profiel",
                            "the file is not in the encoding of its profile"),
    "unreadable": ("het bestand kan niet worden gelezen (afgebroken of beschadigd)",
                   "the file cannot be read (truncated or damaged)"),
    "wrong_separator": ("het bestand heeft een ander scheidingsteken dan het profiel",
                        "the file uses another separator than its profile"),
    "unknown_column": ("het bestand heeft een kolom die het profiel niet kent",
                       "the file has a column its profile does not know"),
    "missing_column": ("een verplichte kolom ontbreekt", "a required column is missing"),
    "xlsx_formula_without_value": ("het werkboek heeft formulecellen zonder berekende waarde",
                                   "the workbook has formula cells without a calculated value"),
    "xml_unparseable": ("het XML-bericht is niet goed gevormd", "the XML message is not well-formed"),
    "xml_forbidden_entity": ("het XML-bericht bevat een DOCTYPE of entiteiten",
                             "the XML message declares a DOCTYPE or entities"),
    "xml_unknown_message": ("geen iWmo/iJw 3.2-bericht dat de pijplijn leest (301, 305, 307, 323, 325)",
                            "no iWmo/iJw 3.2 message this pipeline reads (301, 305, 307, 323, 325)"),
    "unknown_reference_file": ("geen referentietabel die de pijplijn kent: noem het bestand naar zijn soort "
                               "(products, ceilings, budgets, cak_periods, organisations)",
                               "no reference table this pipeline knows: name the file after its kind "
                               "(products, ceilings, budgets, cak_periods, organisations)"),
    "unknown_inbox_folder": ("map in de inbox die geen soort is: zet het bestand in de map van zijn soort "
                             "(allocations, declarations, answers, care_events, zvw_declarations, "
                             "delivered_hours) of in iwmo/",
                             "folder in the inbox that is no kind: put the file in its kind's folder "
                             "(allocations, declarations, answers, care_events, zvw_declarations, "
                             "delivered_hours) or in iwmo/"),
    "xml_invalid": ("het XML-bericht voldoet niet aan zijn XSD", "the XML message does not validate against its XSD"),
    "xml_total_mismatch": ("TotaalIngediendBedrag van de 323 is niet de som van de prestaties",
                           "the 323's TotaalIngediendBedrag is not the sum of its lines"),
    # one row
    "invalid_type": ("een waarde past niet bij het type of het formaat van het profiel (getal, datum)",
                     "a value does not fit its type or the profile's format (number, date)"),
    "implausible_date": ("een datum ligt buiten het plausibele venster (voor 2015 of ver in de toekomst)",
                         "a date lies outside the plausible window (before 2015 or far ahead)"),
    "missing_client": ("BSN en client_id ontbreken allebei", "neither client_bsn nor client_id is filled"),
    "invalid_bsn": ("het BSN voldoet niet aan de elfproef", "the BSN fails the elfproef"),
    "bsn_in_identifier": ("een BSN staat in een kolom waar geen BSN hoort; niet opgeslagen",
                          "a BSN stands in a column where none belongs; not stored"),
    "client_id_not_pseudonym": ("client_id lijkt niet op een pseudoniem", "client_id does not look like a pseudonym"),
    "category_not_in_law": ("de productcategorie hoort niet bij de wet", "the product category is not of the law"),
    "end_before_start": ("de einddatum ligt voor de begindatum", "the end date lies before the start date"),
    "date_in_future": ("een datum ligt in de toekomst", "a date lies in the future"),
    "volume_without_unit": ("een volume zonder eenheid en frequentie", "a volume without unit and frequency"),
    "absurd_volume": ("het volume is meer dan 24 uur per dag", "the volume exceeds 24 hours a day"),
    "credit_without_reference": ("een creditregel zonder vorig referentienummer",
                                 "a credit line without previous reference number"),
    "stop_without_end": ("een stopbericht zonder einddatum of reden", "a stop message without end date or reason"),
    "missing_period": ("precies een van week en maand moet gevuld zijn", "exactly one of week and month must be filled"),
    "band_inverted": ("de bandbreedte is omgekeerd (minimum boven maximum)", "the band is inverted (minimum above maximum)"),
    "amount_mismatch": ("het bedrag is geen volume maal tarief maar een andere grootheid (kolom verkeerd gelezen)",
                        "the amount is no volume times tariff but another quantity (a misread column)"),
    # decided against other rows, decided again when those change
    "duplicate_reference": ("het referentienummer is al eerder gedeclareerd", "the reference number was declared before"),
    "credit_without_debit": ("de creditregel verwijst naar geen bekende debetregel",
                             "the credit line names no known debit line"),
    "duplicate_row": ("een exacte kopie van een al geladen rij", "an exact copy of a row already loaded"),
    "conflicting_version": ("twee versies van een toewijzing met dezelfde toewijzingsdatum en andere inhoud",
                            "two versions of an allocation with the same decided_on and other content"),
}


def reason_text(code: str, lang: str = "en") -> str:
    """The text of a reason code in ``lang`` (nl or en); ``invalid_<column>`` from the column."""
    pair = REASONS.get(code)
    if pair is None and code.startswith("invalid_"):
        column = code.removeprefix("invalid_")
        pair = (f"ongeldige of ontbrekende waarde in kolom {column}", f"invalid or missing value in column {column}")
    if pair is None:
        pair = (code, code)
    return pair[0] if lang == "nl" else pair[1]
