"""Labels and number/date formatting for the reports: Dutch by default, English as a setting.

Dutch: € 1.234,56, € -1.234,56, 31-10-2026, 12,3%. English: € 1,234.56, € -1,234.56, 2026-10-31,
12.3%.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

LANGUAGES = ("nl", "en")

# key -> (Dutch, English)
LABELS: dict[str, tuple[str, str]] = {
    # report titles
    "index_title": ("Rapportages zorgbudgetten en plafonds", "Care budget and ceiling reports"),
    "maand_title": ("Maandrapportage", "Monthly report"),
    "region": ("regio", "region"),
    "region_title": ("hele regio", "whole region"),
    "municipality": ("Gemeente", "Municipality"),
    "reference_number": ("Declaratieregel", "Declaration line"),
    "signal_detail": ("Toelichting", "Detail"),
    "plafond_title": ("Plafondmonitor", "Ceiling monitor"),
    "insurer": ("Zorgverzekeraar", "Insurer"),
    "rekenfactor_title": ("Rekenfactor en bandbreedte", "Rekenfactor and bandwidth"),
    "dq_title": ("Datakwaliteit", "Data quality"),
    "as_of": ("Peildatum", "As of"),
    "freshness": ("Actualiteit van de data", "Data freshness"),
    "latest_declaration": ("laatste declaratie", "latest declaration"),
    "latest_submission": ("laatste indiening wijkverpleging", "latest district-nursing submission"),
    "latest_answer": ("laatste antwoord", "latest answer"),
    "back_to_index": ("Terug naar het overzicht", "Back to the index"),
    "headline": ("Kerncijfers", "Headline figures"),
    "pictures": ("Grafieken", "Charts"),
    "followup": ("Opvolging", "Follow-up"),
    "reports": ("Rapportages", "Reports"),
    "workbook": ("Opvolglijsten (Excel)", "Follow-up lists (Excel)"),
    "full_list_note": (
        "Getoond: de eerste {n} van {total} regels. De volledige lijst staat in {file}, tabblad '{sheet}'.",
        "Shown: the first {n} of {total} rows. The full list is in {file}, sheet '{sheet}'.",
    ),
    "full_list_in": (
        "Ook in {file}, tabblad '{sheet}'.",
        "Also in {file}, sheet '{sheet}'.",
    ),
    "none": ("Geen", "None"),
    "no_data": ("Geen gegevens voor deze periode.", "No data for this period."),
    "unknown": ("onbekend", "unknown"),
    "yes": ("ja", "yes"),
    "no": ("nee", "no"),
    # measures
    "law": ("Wet", "Law"),
    "year": ("Jaar", "Year"),
    "month": ("Maand", "Month"),
    "budget": ("Budget", "Budget"),
    "approved": ("Goedgekeurd", "Approved"),
    "pending": ("In behandeling", "Pending"),
    "expected_late": ("Nog te verwachten", "Expected late"),
    "committed": ("Verplichtingen", "Committed"),
    "forecast": ("Prognose", "Forecast"),
    "exhaustion": ("Uitputting", "Exhaustion"),
    "cumulative_approved": ("Cumulatief goedgekeurd", "Cumulative approved"),
    "budget_line": ("Budget", "Budget"),
    "forecast_line": ("Prognose tot jaareinde", "Forecast to year end"),
    "product_category": ("Productcategorie", "Product category"),
    "product_code": ("Product", "Product"),
    "provider": ("Aanbieder", "Provider"),
    "allocation_number": ("Toewijzing", "Allocation"),
    "amount_eur": ("Bedrag", "Amount"),
    "count": ("Aantal", "Count"),
    "euros": ("Euro", "Euros"),
    "reason": ("Reden", "Reason"),
    "why": ("Waarom gesignaleerd", "Why flagged"),
    "total_max_volume": ("Max. volume totaal", "Total max volume"),
    "delivered_volume": ("Geleverd volume", "Delivered volume"),
    "requested_volume": ("Gevraagd volume", "Requested volume"),
    "max_volume": ("Max. volume maand", "Monthly max volume"),
    "excess_volume": ("Overschrijding volume", "Excess volume"),
    "excess_eur": ("Overschrijding (€)", "Excess (€)"),
    "utilisation": ("Benutting", "Utilisation"),
    "underuse_reason": ("Reden onderbenutting", "Under-use reason"),
    "suggested_product_code": ("Voorgesteld product", "Suggested product"),
    "committed_eur": ("Verplichting (€)", "Committed (€)"),
    "spend": ("Besteding", "Spend"),
    "overshoot_eur": ("Overschrijding (€)", "Overshoot (€)"),
    "late_amount": ("Laat gedeclareerd (€)", "Declared late (€)"),
    "late_lines": ("Late regels", "Late lines"),
    "lines": ("Regels", "Lines"),
    "late_share": ("Aandeel laat", "Late share"),
    "median_lag_days": ("Mediane vertraging (dagen)", "Median lag (days)"),
    "late_answers": ("Late of ontbrekende antwoorden", "Late or missing answers"),
    "rejected_amount": ("Afgewezen bedrag", "Rejected amount"),
    "rejected_lines": ("Afgewezen regels", "Rejected lines"),
    "return_code": ("Retourcode", "Return code"),
    "category": ("Categorie", "Category"),
    "other": ("overig", "other"),
    # overshoot classes
    "period_overshoots": ("Periode-overschrijdingen", "Period overshoots"),
    "compensated_peaks": ("Gecompenseerde pieken", "Compensated peaks"),
    "real_overshoots": ("Echte totaaloverschrijdingen", "Real total overshoots"),
    "count_unit": ("Eenheid", "Unit"),
    "unit_months": ("toewijzingsmaanden", "allocation months"),
    "unit_allocations": ("toewijzingen", "allocations"),
    "whole_law": ("hele wet", "whole law"),
    "not_compensated": ("Niet gecompenseerd", "Not compensated"),
    # ceilings
    "payer": ("Financier", "Payer"),
    "insurer_name": ("Zorgverzekeraar", "Insurer"),
    "ceiling": ("Plafond", "Ceiling"),
    "realised": ("Gerealiseerd", "Realised"),
    "share": ("Aandeel", "Share"),
    "projected_year_end": ("Prognose jaareinde", "Projected year end"),
    "run_out_date": ("Verwachte datum plafond bereikt", "Projected run-out date"),
    "above_ceiling": ("Boven plafond", "Above ceiling"),
    "above_kind": ("Boven plafond: gevolg", "Above ceiling: consequence"),
    "above_unpaid": ("onbetaald", "unpaid"),
    "above_reclaim": ("terug te vorderen", "to reclaim"),
    "alert": ("Signaal", "Alert"),
    "request_by": ("Ophoging aanvragen vóór", "Request increase by"),
    "reached_on": ("Plafond bereikt op", "Ceiling reached on"),
    "providers_total": ("Aanbieders", "Providers"),
    "providers_alert": ("Aanbieders met signaal", "Providers with an alert"),
    "hours_per_client": ("Uren per cliënt per maand", "Hours per client per month"),
    "urenafspraak": ("Urenafspraak", "Hours agreement"),
    "avg_hours": ("Gem. uren per cliëntmaand", "Avg hours per client-month"),
    "avg_hours_full": ("Idem, zonder eerste/laatste maand", "Same, without first/last month"),
    "client_months": ("Cliëntmaanden", "Client-months"),
    "excess_hours": ("Uren boven afspraak", "Hours above agreement"),
    "expected_reclaim": ("Verwachte terugvordering", "Expected reclaim"),
    "hourly_tariff": ("Gem. uurtarief", "Avg hourly tariff"),
    # band / rekenfactor
    "band_position": ("Positie in de band", "Band position"),
    "band_class": ("Bandklasse", "Band class"),
    "band_below": ("onder band", "below band"),
    "band_low": ("laag", "low"),
    "band_mid": ("midden", "mid"),
    "band_high": ("hoog", "high"),
    "band_above": ("boven band", "above band"),
    "allocations": ("Toewijzingen", "Allocations"),
    "implied_rf": ("Impliciete rekenfactor", "Implied rekenfactor"),
    "contract_rf": ("Contract-rekenfactor", "Contract rekenfactor"),
    "unused_share": ("Ongebruikt deel", "Unused share"),
    "budget_effect": ("Budgeteffect", "Budget effect"),
    "indicated_hours": ("Geïndiceerde uren", "Indicated hours"),
    "realised_hours": ("Gerealiseerde uren", "Realised hours"),
    "try_rf": ("Probeer rekenfactor", "Try rekenfactor"),
    "peak_months": ("Piekmaanden", "Peak months"),
    # data quality
    "source_file": ("Bestand", "File"),
    "kind": ("Soort", "Kind"),
    "rows_received": ("Ontvangen", "Received"),
    "rows_loaded": ("Geladen", "Loaded"),
    "rows_quarantined": ("In quarantaine", "Quarantined"),
    "reconciles": ("Sluit aan", "Reconciles"),
    "reason_code": ("Redencode", "Reason code"),
    "reason_text": ("Omschrijving", "Description"),
    "rows": ("Rijen", "Rows"),
    "files": ("Bestanden", "Files"),
    "files_refused": ("Geweigerde bestanden", "Refused files"),
    # page furniture
    "page_failed": ("De grafieken en tabellen konden niet worden geladen", "The charts and tables could not be loaded"),
    "noscript": ("Zet JavaScript aan om de grafieken en sorteerbare tabellen te zien.",
                 "Turn on JavaScript to see the charts and sortable tables."),
    "loading": ("Grafieken en tabellen worden geladen…", "Loading charts and tables…"),
    "status": ("Status", "Status"),
    "owner": ("Eigenaar", "Owner"),
    "note": ("Notitie", "Note"),
    "change_month": ("t.o.v. vorige maand", "vs last month"),
    "previous_month": ("Vorige maand", "Last month"),
    "change": ("Verschil", "Change"),
    "change_month_eur": ("Prognose t.o.v. vorige maand", "Projection vs last month"),
    "last_year_same_point": ("vorig jaar op dit moment", "last year at this point"),
    "not_determinable": ("niet te bepalen", "not determinable"),
    "archive": ("Archief", "Archive"),
    "key_changes": ("Grootste veranderingen sinds vorige maand", "Largest changes since last month"),
    "status_overview": ("Status in één oogopslag", "Status at a glance"),
    "incomplete_month": ("lopende maand, onvolledig", "current month, incomplete"),
    "immature_short": ("nog niet volledig gedeclareerd", "not fully declared yet"),
    "immature_months": ("nog niet volledig:<br>declaraties komen nog binnen", "not complete yet:<br>declarations still arriving"),
    "not_judged_yet": ("nog niet te beoordelen:<br>regels kunnen nog op tijd komen", "cannot be judged yet:<br>lines may still come in time"),
    "technical_detail": ("Technische melding", "Technical message"),
    "files_with_problem": ("Bestanden met een probleem", "Files with a problem"),
    "per_kind_month": ("Per soort en maand van ontvangst", "Per kind and month received"),
    "received_month": ("Maand ontvangen", "Month received"),
    "definitions": ("Wat de kolommen betekenen", "What the columns mean"),
    "forecast_history": ("Hoe de prognose bewoog", "How the forecast moved"),
    "backtest": ("Terugblik: prognose tegen uitkomst", "Backtest: forecast against outcome"),
    "outcome": ("Uitkomst", "Outcome"),
    "abs_pct_error": ("Afwijking", "Error"),
    "months_before_year_end": ("Maanden voor jaareinde", "Months before year end"),
    "forecast_as_of": ("Prognose per", "Forecast as of"),
    "signal_after_stop": ("Na stop (€)", "After stop (€)"),
    "signal_outside_allocation": ("Buiten toewijzing (€)", "Outside allocation (€)"),
    "signal_no_allocation": ("Zonder toewijzing (€)", "Without allocation (€)"),
    "signal_duplicate_period": ("Dubbele periode (€)", "Double period (€)"),
    "total": ("Totaal", "Total"),
    "hours_per_week": ("Uren per week (mediaan)", "Hours per week (median)"),
    "stops": ("Stops", "Stops"),
    "late_stops": ("Te late stopberichten", "Late stop messages"),
    "median_delay_days": ("Mediane vertraging (werkdagen)", "Median delay (working days)"),
    "open_after_stop": ("Toewijzingen open na stop", "Allocations open after stop"),
}

# values of coded columns, shown in the reader's language
VALUE_LABELS: dict[str, tuple[str, str]] = {
    "no_declarations": ("geen declaraties", "no declarations"),
    "low_utilisation": ("lage benutting", "low utilisation"),
    "below_band": ("onder de band", "below band"),
    "reached": ("plafond bereikt", "ceiling reached"),
    "projected_over": ("prognose boven plafond", "projected over ceiling"),
    "90": ("90% bereikt", "90% reached"),
    "70": ("70% bereikt", "70% reached"),
    "ok": ("ok", "ok"),
    "after_stop": ("Na stop", "After stop"),
    "outside_allocation": ("Buiten toewijzing", "Outside allocation"),
    "no_allocation": ("Zonder toewijzing", "Without allocation"),
    "duplicate_period": ("Dubbele periode", "Double period"),
    "loaded": ("geladen", "loaded"),
    "refused": ("geweigerd", "refused"),
    "allocations": ("toewijzingen", "allocations"),
    "declarations": ("declaraties", "declarations"),
    "answers": ("antwoorden", "answers"),
    "care_events": ("start- en stopberichten", "start and stop messages"),
    "zvw_declarations": ("wijkverpleging", "district nursing"),
    "delivered_hours": ("geleverde uren", "delivered hours"),
    "products": ("producten", "products"),
    "ceilings": ("plafonds", "ceilings"),
    "budgets": ("budgetten", "budgets"),
    "organisations": ("organisaties", "organisations"),
    "cak_periods": ("CAK-perioden", "CAK periods"),
    "wmo": ("Wmo", "Wmo"),
    "jeugd": ("Jeugd", "Jeugd"),
    "stop_payment": ("betaalstop", "stop payment"),
    "settle": ("verrekenen", "settle"),
    # rejection categories (metrics.md §12)
    "volume exceeds allocation": ("volume boven toewijzing", "volume exceeds allocation"),
    "period outside allocation": ("periode buiten toewijzing", "period outside allocation"),
    "tariff or amount": ("tarief of bedrag", "tariff or amount"),
    "no valid allocation": ("geen geldige toewijzing", "no valid allocation"),
    "product or unit": ("product of eenheid", "product or unit"),
    "duplicate or credit": ("dubbel of credit", "duplicate or credit"),
    "whole declaration": ("hele declaratie", "whole declaration"),
}


# Definitions shown beside a figure or under a column header (hover): what counts, as of when, and
# what a flag means. Keyed like LABELS.
HELP: dict[str, tuple[str, str]] = {
    "budget": ("Het budget van de gemeente voor dit jaar en deze wet (of productcategorie).",
               "The municipality's budget for this year and law (or product category)."),
    "approved": ("Goedgekeurde declaraties (debet min credit) over zorg in dit jaar, tot de peildatum.",
                 "Approved declarations (debit minus credit) for care in this year, up to the reporting date."),
    "pending": ("Gedeclareerd, maar nog zonder antwoord (325) van de gemeente.",
                "Declared, but not yet answered (325) by the municipality."),
    "expected_late": ("Zorg die al geleverd is maar nog niet gedeclareerd: geschat uit hoe laat aanbieders "
                      "gewoonlijk declareren (chain ladder).",
                      "Care already delivered but not yet declared, estimated from how late providers usually "
                      "declare (chain ladder)."),
    "committed": ("Lopende toewijzingen na de peildatum tot het jaareinde: maximum × tarief × verwachte benutting.",
                  "Running allocations after the reporting date up to year end: maximum × tariff × expected use."),
    "forecast": ("Goedgekeurd + in behandeling + nog te verwachten + verplichtingen.",
                 "Approved + pending + expected late + committed."),
    "exhaustion": ("Prognose ÷ budget. Boven 100% dreigt een overschrijding.",
                   "Forecast ÷ budget. Above 100% an overrun is expected."),
    "utilisation": ("Geleverd volume ÷ maximaal toegewezen volume over de volwassen maanden (maanden die minstens "
                    "twee maanden voor de peildatum eindigden).",
                    "Delivered volume ÷ allocated maximum over the mature months (months that ended at least two "
                    "months before the reporting date)."),
    "underuse_reason": ("geen declaraties: niets gedeclareerd in de volwassen maanden; lage benutting: minder dan "
                        "50% van het maximum over minstens 3 volwassen maanden; onder de band: minder uren per week "
                        "dan de ondergrens van de intensiteit.",
                        "no declarations: nothing declared in the mature months; low utilisation: under 50% of "
                        "the maximum over at least 3 mature months; below band: fewer hours a week than the "
                        "intensity's lower bound."),
    "suggested_product_code": ("Het product van dezelfde categorie waarvan de band de gerealiseerde uren per week "
                               "bevat; leeg als geen product past of het product geen band heeft.",
                               "The product of the same category whose band holds the realised hours per week; "
                               "empty when none fits or the product has no band."),
    "total_max_volume": ("Het maximum dat de toewijzing over haar hele looptijd toestaat (TR322).",
                         "The maximum the allocation allows over its whole term (TR322)."),
    "delivered_volume": ("Goedgekeurd netto volume, in de eenheid van de toewijzing.",
                         "Approved net volume, in the allocation's unit."),
    "requested_volume": ("Wat de aanbieder vroeg: gedeclareerd netto volume plus regels die alleen zijn afgewezen "
                         "omdat ze boven de toewijzing gingen.",
                         "What the provider asked for: declared net volume plus lines rejected only because they "
                         "exceeded the allocation."),
    "max_volume": ("Het maximum dat de toewijzing in deze maand toestaat (TR321).",
                   "The maximum the allocation allows in this month (TR321)."),
    "excess_eur": ("Euro's boven het maximum: het volume erboven × de gemiddelde prijs per eenheid.",
                   "Euros above the maximum: the excess volume × the average price per unit."),
    "period_overshoots": ("Maanden waarin meer werd gevraagd dan het maandmaximum (TR321).",
                          "Months in which more was requested than the monthly maximum (TR321)."),
    "compensated_peaks": ("Piekmaanden die binnen het jaartotaal van de toewijzing blijven: geen echte "
                          "overschrijding (disharmonisch factureren).",
                          "Peak months that the allocation's yearly total absorbs: no real overshoot."),
    "real_overshoots": ("Toewijzingen waarvan het totaal gevraagde volume boven het totale maximum ligt (TR322), of "
                        "boven het budget (TR369).",
                        "Allocations whose total requested volume exceeds the total maximum (TR322) or budget (TR369)."),
    "ceiling": ("Het afgesproken zorgkostenplafond voor dit jaar.", "The agreed care-cost ceiling for this year."),
    "realised": ("Goedgekeurde declaraties over zorg in dit jaar, ingediend tot de peildatum.",
                 "Approved declarations for care in this year, submitted up to the reporting date."),
    "share": ("Gerealiseerd ÷ plafond.", "Realised ÷ ceiling."),
    "projected_year_end": ("Verwachte uitkomst over het hele jaar: gerealiseerd + nog te verwachten + het tempo van de "
                           "laatste drie maanden × de resterende maanden.",
                           "Expected outcome for the whole year: realised + expected late + the pace of the last "
                           "three months × the months left."),
    "change_month_eur": ("Hoeveel de prognose jaareinde veranderde sinds het vorige maandeinde (marts.forecast_history).",
                         "How much the projected year end changed since the previous month end (marts.forecast_history)."),
    "run_out_date": ("De datum waarop het plafond naar verwachting bereikt wordt; leeg als de prognose binnen het "
                     "plafond blijft.",
                     "The date the ceiling is expected to be reached; empty when the projection stays within it."),
    "above_ceiling": ("Gerealiseerd boven het plafond: onbetaald (betaalstop) of terug te vorderen (verrekenen).",
                      "Realised above the ceiling: unpaid (stop payment) or to reclaim (settle)."),
    "alert": ("plafond bereikt; prognose boven plafond; 90% of 70% van het plafond gerealiseerd; ok.",
              "ceiling reached; projected over ceiling; 90% or 70% of the ceiling realised; ok."),
    "request_by": ("Uiterste datum uit het contract om een ophoging aan te vragen; alleen gevuld bij een prognose "
                   "boven het plafond en een datum die nog komt.",
                   "The contract's deadline to request an increase; filled only when the projection exceeds the "
                   "ceiling and the date is still ahead."),
    "avg_hours": ("Uren ÷ cliëntmaanden (een cliënt telt in een maand met uren).",
                  "Hours ÷ client-months (a client counts in a month with hours)."),
    "urenafspraak": ("Het afgesproken maximum gemiddeld aantal uren per cliënt per maand.",
                     "The agreed maximum average hours per client per month."),
    "expected_reclaim": ("Uren boven de afspraak × gemiddeld uurtarief.", "Hours above the agreement × average hourly tariff."),
    "late_lines": ("Regels gedeclareerd meer dan 3 maanden na het einde van hun productperiode.",
                   "Lines declared more than 3 months after the end of their product period."),
    "late_answers": ("Declaraties die meer dan 10 werkdagen na indiening nog geen antwoord hadden.",
                     "Declarations without an answer more than 10 working days after they were sent."),
    "median_lag_days": ("Mediaan van de dagen tussen het einde van de productperiode en de declaratiedatum.",
                        "Median days between the end of the product period and the declaration date."),
    "rejected_lines": ("Afgewezen declaratieregels, elke regel één keer geteld (onder zijn eerste retourcode).",
                       "Rejected declaration lines, each counted once (under its primary return code)."),
    "rejected_amount": ("Ingediend bedrag van de afgewezen regels, elke regel één keer geteld.",
                        "Submitted amount of the rejected lines, each line counted once."),
    "band_position": ("0 = ondergrens, 1 = bovengrens van de band van het product (uren per week).",
                      "0 = the band's lower bound, 1 = its upper bound (hours per week)."),
    "implied_rf": ("Gerealiseerde uren ÷ geïndiceerde uren.", "Realised hours ÷ indicated hours."),
    "contract_rf": ("De rekenfactor waarmee het tarief is berekend.", "The rekenfactor the tariff was calculated with."),
    "unused_share": ("1 − impliciete rekenfactor: het deel van de indicatie dat niet gebruikt wordt.",
                     "1 − implied rekenfactor: the share of the indication that is not used."),
    "budget_effect": ("Goedgekeurd bedrag × (impliciete ÷ contract-rekenfactor − 1): wat het jaar kost of "
                      "oplevert als het tarief de werkelijke inzet volgt.",
                      "Approved amount × (implied ÷ contract rekenfactor − 1): the year's effect if the tariff "
                      "followed actual use."),
    "signal_after_stop": ("Regels waarvan de periode begint na het einde van een definitieve stop (niet reden 20) van "
                          "dezelfde toewijzing, zonder latere herstart.",
                          "Lines whose period starts after the end of a final stop (not reason 20) of the same "
                          "allocation, without a later restart."),
    "signal_outside_allocation": ("Regels met een periode buiten de looptijd van de toewijzing.",
                                  "Lines with a period outside the allocation's term."),
    "signal_no_allocation": ("Regels bij een onbekende of verwijderde toewijzing.",
                             "Lines on an unknown or deleted allocation."),
    "signal_duplicate_period": ("Een tweede regel voor dezelfde toewijzing, hetzelfde product en dezelfde periode, "
                                "die geen creditering of correctie is.",
                                "A second line for the same allocation, product and period that is no credit or "
                                "correction."),
    "late_stops": ("Stopberichten verstuurd meer dan 5 werkdagen na het einde van de zorg.",
                   "Stop messages sent more than 5 working days after care ended."),
    "open_after_stop": ("Toewijzingen waarvan de zorg definitief stopte, maar zonder einddatum op of voor de stop.",
                        "Allocations whose care stopped for good but without an end date on or before the stop."),
    "rows_quarantined": ("Rijen die niet zijn geladen omdat ze een regel schenden; de reden staat erbij.",
                         "Rows not loaded because they break a rule; the reason is given."),
    "why": ("Waarom deze regel op de lijst staat.", "Why this row is on the list."),
    "committed_eur": ("Verplichting op deze toewijzing van na de peildatum tot het jaareinde.",
                      "Commitment on this allocation from the reporting date to year end."),
}

# Quarantine reason codes in the reader's language (the ingest writes English technical texts);
# other engineers add codes here.
REASON_TEXTS: dict[str, tuple[str, str]] = {
    "invalid_bsn": ("BSN voldoet niet aan de elfproef (BSN niet getoond)", "BSN fails the elfproef (BSN not shown)"),
    "missing_client": ("Geen BSN en geen cliëntnummer", "Neither BSN nor client id"),
    "duplicate_reference": ("Referentienummer al eerder gedeclareerd door deze aanbieder",
                            "Reference number already declared by this provider"),
    "credit_without_debit": ("Creditregel zonder bekende debetregel", "Credit line without a known debit line"),
    "credit_without_reference": ("Creditregel zonder vorig referentienummer", "Credit line without a previous reference number"),
    "invalid_volume": ("Volume ongeldig (bijvoorbeeld negatief)", "Invalid volume (for example negative)"),
    "absurd_volume": ("Volume van meer dan 24 uur per dag", "Volume of more than 24 hours a day"),
    "invalid_allocation_number": ("Toewijzingsnummer ontbreekt of is ongeldig", "Allocation number missing or invalid"),
    "invalid_product_category": ("Productcategorie niet in de codelijst van de wet",
                                 "Product category not in the law's code list"),
    "category_not_in_law": ("Productcategorie hoort niet bij de wet", "Product category does not belong to the law"),
    "end_before_start": ("Einddatum ligt voor de begindatum", "End date before start date"),
    "date_in_future": ("Datum ligt in de toekomst", "Date lies in the future"),
    "volume_without_unit": ("Volume zonder eenheid of frequentie", "Volume without unit or frequency"),
    "stop_without_end": ("Stopbericht zonder einddatum of reden", "Stop message without end date or reason"),
    "missing_period": ("Precies één van week en maand moet gevuld zijn", "Exactly one of week and month must be filled"),
    "band_inverted": ("Ondergrens van de band boven de bovengrens", "Band minimum above its maximum"),
    "unreadable": ("Bestand kan niet gelezen worden (beschadigd of afgebroken)", "File cannot be read (damaged or truncated)"),
    "unreadable_encoding": ("Bestand heeft een onbekende tekencodering", "File has an unknown character encoding"),
    "not_an_export": ("Bestand is geen export (binaire gegevens)", "File is not an export (binary data)"),
    "missing_column": ("Verplichte kolom ontbreekt", "A required column is missing"),
    "unknown_column": ("Onbekende kolom", "Unknown column"),
    "invalid_type": ("Kolom heeft het verkeerde type", "Column has the wrong type"),
    "duplicate": ("Dubbel aangeleverd", "Delivered twice"),
    "duplicate_row": ("Dubbele rij", "Duplicate row"),
    "xml_forbidden_entity": ("XML-bericht met een DOCTYPE (niet toegestaan)", "XML message with a DOCTYPE (not allowed)"),
    "xml_unparseable": ("XML-bericht is onleesbaar", "XML message cannot be parsed"),
    "xsd_invalid": ("XML-bericht voldoet niet aan het XSD-schema", "XML message fails its XSD schema"),
    "unrecognised_message": ("Onbekend berichttype", "Unrecognised message type"),
}


def help_text(key: str, lang: str = "nl") -> str:
    """The definition of a label, or '' when it needs none."""
    _check(lang)
    pair = HELP.get(key)
    return "" if pair is None else (pair[0] if lang == "nl" else pair[1])


def reason_text(code: str | None, technical: str | None, lang: str = "nl") -> str:
    """A quarantine reason in the reader's language; unknown codes fall back to the technical text."""
    _check(lang)
    pair = REASON_TEXTS.get(code or "")
    if pair is None and code and code.startswith("invalid_"):
        column = code.removeprefix("invalid_").replace("_", " ")
        return f"Waarde van kolom '{column}' ongeldig" if lang == "nl" else f"Invalid value in column '{column}'"
    if pair is None:
        return technical or code or ""
    return pair[0] if lang == "nl" else pair[1]


def label(key: str, lang: str = "nl") -> str:
    """The label for ``key`` in ``lang`` (nl or en)."""
    _check(lang)
    nl, en = LABELS[key]
    return nl if lang == "nl" else en


def value_label(value: str | None, lang: str = "nl") -> str:
    """A coded value (under-use reason, alert, policy) in the reader's language."""
    if value is None:
        return ""
    pair = VALUE_LABELS.get(value)
    if pair is None:
        return value
    return pair[0] if lang == "nl" else pair[1]


def _check(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {lang!r}")


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_num(x: float | int | None, lang: str = "nl", decimals: int = 0) -> str:
    """1234.5 -> '1.234,5' (nl) or '1,234.5' (en); None -> ''."""
    _check(lang)
    if _missing(x):
        return ""
    # commercial rounding (half away from zero), as the column version does
    rounded = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    text = f"{rounded:,.{decimals}f}"
    if lang == "nl":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def fmt_eur(x: float | int | None, lang: str = "nl", decimals: int = 2) -> str:
    """1234.56 -> '€ 1.234,56'; -1234.56 -> '€ -1.234,56' (nl); '€ 1,234.56' (en)."""
    if _missing(x):
        return ""
    return f"€ {fmt_num(x, lang, decimals)}"


def fmt_pct(x: float | None, lang: str = "nl", decimals: int = 1) -> str:
    """A share (0.123) as '12,3%' (nl) or '12.3%' (en)."""
    if _missing(x):
        return ""
    return f"{fmt_num(100 * float(x), lang, decimals)}%"


def fmt_date(d: dt.date | dt.datetime | None, lang: str = "nl") -> str:
    """31-10-2026 (nl) or 2026-10-31 (en)."""
    _check(lang)
    if d is None:
        return ""
    if isinstance(d, dt.datetime):
        d = d.date()
    return d.strftime("%d-%m-%Y") if lang == "nl" else d.isoformat()


def fmt_month(d: dt.date | None, lang: str = "nl") -> str:
    """A month: okt 2026 (nl) or Oct 2026 (en)."""
    _check(lang)
    if d is None:
        return ""
    return month_name(d, lang)


def plotly_separators(lang: str) -> str:
    """Plotly's ``layout.separators``: decimal mark then thousands mark."""
    _check(lang)
    return ",." if lang == "nl" else ".,"


def plotly_date_format(lang: str) -> str:
    """d3 date format for axes and hovers."""
    _check(lang)
    return "%d-%m-%Y" if lang == "nl" else "%Y-%m-%d"


def plotly_month_format(lang: str) -> str:
    """Months as 'jan 2026' (the page registers Dutch month names for Plotly)."""
    _check(lang)
    return "%b %Y"


MONTHS_NL = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
             "oktober", "november", "december"]
SHORT_MONTHS_NL = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]


def month_name(d: dt.date, lang: str = "nl") -> str:
    """'jan 2026' (nl) or 'Jan 2026' (en)."""
    _check(lang)
    return f"{SHORT_MONTHS_NL[d.month - 1]} {d.year}" if lang == "nl" else f"{MONTHS_EN[d.month - 1][:3]} {d.year}"


# Plotly's locale for the page: the toolbar's titles and the month names of date axes
PLOTLY_LOCALES: dict[str, dict] = {
    "nl": {
        "moduleType": "locale", "name": "nl",
        "dictionary": {
            "Download plot as a png": "Grafiek opslaan als PNG (op deze computer)",
            "Download plot as a PNG": "Grafiek opslaan als PNG (op deze computer)",
            "Download plot": "Grafiek opslaan",
            "Zoom": "Inzoomen op een gebied", "Pan": "Verschuiven", "Zoom in": "Inzoomen", "Zoom out": "Uitzoomen",
            "Autoscale": "Alles tonen", "Reset axes": "Assen herstellen",
            "Double-click to zoom back out": "Dubbelklik om terug te zoomen",
            "Taking snapshot - this may take a few seconds": "Afbeelding wordt gemaakt…",
            "Snapshot succeeded": "Afbeelding opgeslagen",
            "Sorry, there was a problem downloading your snapshot!": "Het opslaan van de afbeelding is mislukt.",
            "Click to enter Plot title": "", "Click to enter X axis title": "", "Click to enter Y axis title": "",
            "trace": "reeks", "Trace": "Reeks",
        },
        "format": {
            "days": ["zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"],
            "shortDays": ["zo", "ma", "di", "wo", "do", "vr", "za"],
            "months": MONTHS_NL, "shortMonths": SHORT_MONTHS_NL,
            "date": "%d-%m-%Y", "decimal": ",", "thousands": ".", "periods": ["AM", "PM"],
            "dateTime": "%a %e %B %Y %X", "time": "%H:%M:%S", "grouping": [3], "currency": ["€ ", ""],
        },
    },
    "en": {
        "moduleType": "locale", "name": "en",
        "dictionary": {"Download plot as a png": "Save chart as PNG (on this computer)",
                       "Download plot as a PNG": "Save chart as PNG (on this computer)"},
        "format": {
            "days": ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
            "shortDays": ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
            "months": MONTHS_EN, "shortMonths": [m[:3] for m in MONTHS_EN], "periods": ["AM", "PM"],
            "dateTime": "%a %b %e %X %Y", "date": "%Y-%m-%d", "time": "%H:%M:%S",
            "decimal": ".", "thousands": ",", "grouping": [3], "currency": ["€ ", ""],
        },
    },
}

# DataTables' texts
DATATABLES_LANGUAGE: dict[str, dict] = {
    "nl": {
        "search": "Zoeken:", "lengthMenu": "_MENU_ rijen per pagina", "info": "Rij _START_ tot _END_ van _TOTAL_",
        "infoEmpty": "Geen rijen", "infoFiltered": "(gezocht in _MAX_ rijen)", "zeroRecords": "Niets gevonden",
        "emptyTable": "Geen gegevens",
        "paginate": {"first": "Eerste", "last": "Laatste", "next": "Volgende", "previous": "Vorige"},
        "aria": {"orderable": "Sorteer op deze kolom", "orderableReverse": "Sorteer andersom"},
    },
    "en": {"search": "Search:", "info": "Rows _START_ to _END_ of _TOTAL_", "lengthMenu": "_MENU_ rows per page"},
}


# ---- the same formats as polars expressions, for whole columns (no Python loop over rows) ----


def pl_fmt_num(expr: pl.Expr, lang: str = "nl", decimals: int = 0) -> pl.Expr:
    """Column version of :func:`fmt_num` (up to 10^15); null stays null."""
    _check(lang)
    thousands, point = (".", ",") if lang == "nl" else (",", ".")
    scale = 10**decimals
    scaled = (expr.cast(pl.Float64).abs() * scale).round(0, mode="half_away_from_zero").cast(pl.Int64)
    whole = scaled // scale
    frac = (scaled % scale).cast(pl.String).str.zfill(decimals) if decimals else None

    def group(n: int) -> pl.Expr:
        return ((whole // 10 ** (3 * n)) % 1000).cast(pl.String)

    def padded(n: int) -> pl.Expr:
        return group(n).str.zfill(3)

    text = (
        pl.when(whole >= 10**12)
        .then(pl.concat_str([(whole // 10**12).cast(pl.String), padded(3), padded(2), padded(1), padded(0)], separator=thousands))
        .when(whole >= 10**9)
        .then(pl.concat_str([group(3), padded(2), padded(1), padded(0)], separator=thousands))
        .when(whole >= 10**6)
        .then(pl.concat_str([group(2), padded(1), padded(0)], separator=thousands))
        .when(whole >= 10**3)
        .then(pl.concat_str([group(1), padded(0)], separator=thousands))
        .otherwise(group(0))
    )
    if frac is not None:
        text = pl.concat_str([text, frac], separator=point)
    sign = pl.when(scaled > 0).then(pl.when(expr < 0).then(pl.lit("-")).otherwise(pl.lit(""))).otherwise(pl.lit(""))
    return pl.concat_str([sign, text])


def pl_fmt_eur(expr: pl.Expr, lang: str = "nl", decimals: int = 2) -> pl.Expr:
    return pl.concat_str([pl.lit("€ "), pl_fmt_num(expr, lang, decimals)])


def pl_fmt_pct(expr: pl.Expr, lang: str = "nl", decimals: int = 1) -> pl.Expr:
    return pl.concat_str([pl_fmt_num(expr * 100, lang, decimals), pl.lit("%")])


def pl_fmt_date(expr: pl.Expr, lang: str = "nl") -> pl.Expr:
    _check(lang)
    return expr.dt.strftime("%d-%m-%Y" if lang == "nl" else "%Y-%m-%d")


def pl_fmt_month(expr: pl.Expr, lang: str = "nl") -> pl.Expr:
    """Months as 'jan 2026' (nl) or 'Jan 2026' (en)."""
    _check(lang)
    names = SHORT_MONTHS_NL if lang == "nl" else [m[:3] for m in MONTHS_EN]
    month = expr.dt.month().cast(pl.String).replace_strict({str(i + 1): n for i, n in enumerate(names)},
                                                          default=None, return_dtype=pl.String)
    return pl.concat_str([month, pl.lit(" "), expr.dt.year().cast(pl.String)])


def pl_value_label(expr: pl.Expr, lang: str = "nl") -> pl.Expr:
    """Column version of :func:`value_label`."""
    _check(lang)
    mapping = {k: (v[0] if lang == "nl" else v[1]) for k, v in VALUE_LABELS.items()}
    return expr.replace(mapping)
