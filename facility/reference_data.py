"""Reference codes the facility validates against (see docs/domain.md for sources)."""

from __future__ import annotations

from enum import StrEnum

# ISO 3166-1 alpha-2, officially assigned codes (249).
ISO_COUNTRIES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()
)

# The ten countries of the Silk Routes Facility.
SILK_ROUTES_COUNTRIES: tuple[str, ...] = ("AF", "BD", "IR", "IQ", "PK")
CENTRAL_ASIA_COUNTRIES: tuple[str, ...] = ("KZ", "KG", "TJ", "TM", "UZ")
FACILITY_COUNTRIES: tuple[str, ...] = SILK_ROUTES_COUNTRIES + CENTRAL_ASIA_COUNTRIES


class Priority(StrEnum):
    """The six priorities of the Istanbul Ministerial Declaration."""

    migration_mobility = "migration_mobility"
    integration = "integration"
    migration_development = "migration_development"
    irregular_migration = "irregular_migration"
    trafficking = "trafficking"
    international_protection = "international_protection"


PRIORITY_LABELS: dict[Priority, str] = {
    Priority.migration_mobility: "Migration and Mobility",
    Priority.integration: "Integration",
    Priority.migration_development: "Migration and Development",
    Priority.irregular_migration: "Irregular Migration",
    Priority.trafficking: "Trafficking in Persons",
    Priority.international_protection: "International Protection",
}

# IATI 2.03 OrganisationType codelist.
IATI_ORGANISATION_TYPES: dict[int, str] = {
    10: "Government",
    11: "Local Government",
    15: "Other Public Sector",
    21: "International NGO",
    22: "National NGO",
    23: "Regional NGO",
    24: "Partner Country based NGO",
    30: "Public Private Partnership",
    40: "Multilateral",
    60: "Foundation",
    70: "Private Sector",
    71: "Private Sector in Provider Country",
    72: "Private Sector in Aid Recipient Country",
    73: "Private Sector in Third Country",
    80: "Academic, Training and Research",
    90: "Other",
}

# Languages the facility writes to its users in (English is the fallback).
LANGUAGES: tuple[str, ...] = ("en", "ru")
