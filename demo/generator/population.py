"""Persons and their CRM records for the demo world: latent traits, contact data, duplicates, consents.

About 3 % of persons get a second record in the other source system with a different customer_id and
the same email written differently (case, spaces) and/or the same phone in another format. The golden
id of a person is the customer_id of their earliest record (earliest signup_date, ties by customer_id).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo.generator.dynamics import CATEGORY_POPULARITY, People, hazard_daily, purchase_rate
from demo.generator.format import (
    categorical, epoch_day, format_bools, format_dates, format_ids, format_timestamps, id_width, join, take_strings,
)
from demo.generator.text import (
    EMAIL_DOMAINS, FIRST_NAMES, LANGUAGE_SHARES, LANGUAGES, LAST_NAMES, REGIONS, fold_ascii,
)

DUPLICATE_SHARE = 0.03
PRE_PERIOD_SIGNUP_SHARE = 0.4
PRE_PERIOD_DAYS = 3 * 365
CONSENT_TRUE_SHARE = {"consent_email": 0.70, "consent_sms": 0.40, "consent_phone": 0.50, "consent_app": 0.30}
CONSENT_MISSING_SHARE = 0.03
DO_NOT_CONTACT_SHARE = 0.02
SEGMENTS = ("consumer", "family", "professional", "student", "senior", "vip")
PREFERRED_CHANNELS = ("email", "sms", "phone", "app")
SOURCE_SYSTEMS = ("crm_a", "shop_b")
PHONE_FORMATS = 5     # "+34 612 345 678", "612345678", "0034612345678", "+34612345678", "612 34 56 78"
# Phone country per language: es speakers have Spanish mobiles, pt speakers Portuguese ones (+351 9x), half of the
# en speakers British ones (+44 7400 ...). A foreign number is written with its country code only (formats 0, 2, 3):
# a CRM in Spain cannot tell a national number of another country. Chosen from the person index, with no random
# draw, so the rest of the world is unchanged.
PHONE_COUNTRY_CODES = ("34", "351", "44")
_NATIONAL_ONLY_FORMATS = (1, 4)
LANGUAGE_KNOWN_SHARE_TENTHS = 7   # the CRM records the customer's language for 7 in 10 persons
_PHONE_RANGE = 140_000_000          # valid Spanish mobiles: 600000000 .. 699999999 and 710000000 .. 749999999
_PHONE_STRIDE = 104_729 * 3         # coprime with _PHONE_RANGE: an affine bijection keeps numbers unique
# 9-digit runs a phone normaliser rejects as fake ("678901234"); remapped to unused (valid landline) 98x numbers.
_RUN_NUMBERS = [int(run[i:i + 9]) for run in ("0123456789" * 2, "9876543210" * 2) for i in range(10)]


@dataclass(frozen=True)
class Records:
    """The CRM records: per person the golden record (a) and an optional duplicate (b)."""

    number_a: np.ndarray        # customer number of the earliest record (the golden id)
    number_b: np.ndarray        # customer number of the duplicate record, 0 if none
    signup_b: np.ndarray        # signup day of the duplicate (>= the person's signup day)
    width: int                  # digits of customer ids
    customers: pa.Table         # the customers extract, clean, sorted by customer_id

    @property
    def n_records(self) -> int:
        return int(self.customers.num_rows)

    def customer_ids(self, numbers: np.ndarray) -> pa.Array:
        """customer_id of each number ("C0000017"); numbers above n_records give ids nobody has."""
        every = format_ids("C", np.arange(int(numbers.max(initial=0)) + 1), self.width)
        return every.take(pa.array(np.asarray(numbers, dtype=np.int64)))

    def numbers_for_events(self, rng: np.random.Generator, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Customer number each event is booked under: split 50/50 once both records exist."""
        b = self.number_b[person]
        use_b = (b > 0) & (day >= self.signup_b[person]) & (rng.random(len(person)) < 0.5)
        return np.where(use_b, b, self.number_a[person]).astype(np.int32)


def draw_people(rng: np.random.Generator, n: int, n_days: int) -> People:
    """Latent traits and the state on day 0 (persons who signed up earlier may already have churned)."""
    before = rng.random(n) < PRE_PERIOD_SIGNUP_SHARE
    signup = np.where(before, rng.integers(-PRE_PERIOD_DAYS, 0, n), rng.integers(0, n_days, n)).astype(np.int32)
    engagement = rng.beta(2.0, 2.5, n)
    sat_base = rng.beta(6.0, 2.5, n)
    price_sens = rng.beta(2.0, 2.0, n)
    tier_score = price_sens + rng.normal(0.0, 0.2, n)
    tier = np.where(tier_score > 0.62, 0, np.where(tier_score < 0.3, 2, 1)).astype(np.int8)
    affinity = rng.dirichlet(2.4 * CATEGORY_POPULARITY, n)       # concentrated: most buy 1-3 categories
    rate_base = np.exp(rng.normal(np.log(5.2), 0.7, n)) * (0.5 + engagement) / 365.0
    tenure = np.maximum(-signup, 0).astype(float)
    zero = np.zeros(n)
    hazard0 = hazard_daily(engagement, sat_base, zero, 1.0)
    alive = rng.random(n) >= -np.expm1(-hazard0 * tenure)
    death = np.where(alive, np.inf, signup + rng.random(n) * tenure)
    gap = rng.exponential(1.0, n) / purchase_rate(rate_base, sat_base)
    last_purchase = np.where(before & alive, np.maximum(signup, -gap), signup).astype(float)
    return People(
        signup_day=signup, engagement=engagement, sat_base=sat_base, price_sens=price_sens, tier=tier,
        affinity=affinity, rate_base=rate_base, channel_pref=rng.dirichlet([2.2, 1.2, 1.6], n),
        lang=rng.choice(len(LANGUAGES), n, p=LANGUAGE_SHARES).astype(np.int8),
        do_not_contact=np.zeros(n, dtype=bool), return_prob=0.03 + 0.06 * (1.0 - sat_base),
        death_day=death, complaint_load=zero.copy(), last_complaint_day=np.full(n, -np.inf),
        last_purchase_day=last_purchase, boost_mult=np.ones(n), boost_until=np.full(n, -np.inf),
    )


def draw_records(rng: np.random.Generator, people: People, start: dt.date, n_days: int) -> Records:
    """CRM records of every person (3 % duplicated); sets people.do_not_contact from them."""
    n = people.n
    dup = np.flatnonzero(rng.random(n) < DUPLICATE_SHARE)
    n_records = n + len(dup)
    numbers = rng.permutation(n_records).astype(np.int64) + 1
    person = np.concatenate([np.arange(n), dup])
    is_b = np.arange(n_records) >= n
    # The duplicate's signup: same day (a tie) or up to ~13 months later, never after the period.
    later = np.where(rng.random(len(dup)) < 0.25, 0, rng.integers(1, 400, len(dup)))
    signup = people.signup_day[person].astype(np.int64)
    signup[n:] = np.minimum(signup[n:] + later, n_days - 1)
    number_a, number_b, signup_b = numbers[:n].copy(), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    tie_swap = (signup[n:] == signup[dup]) & (numbers[n:] < numbers[dup])   # ties go to the smaller id
    number_b[dup] = np.where(tie_swap, numbers[dup], numbers[n:])
    number_a[dup] = np.where(tie_swap, numbers[n:], numbers[dup])
    signup_b[dup] = signup[n:]
    kind = np.full(n, -1, dtype=np.int8)       # duplicate kind: -1 none, 0 email variant, 1 phone only, 2 both
    kind[dup] = rng.choice(3, len(dup), p=[0.5, 0.3, 0.2])
    contacts = _draw_contacts(rng, people, person, is_b, kind[person], n)
    dnc = rng.random(n_records) < DO_NOT_CONTACT_SHARE
    people.do_not_contact[:] = np.bincount(person, weights=dnc, minlength=n) > 0
    source_a = rng.random(n) < 0.4
    source = np.where(is_b, ~source_a[person], source_a[person]).astype(np.int8)
    columns = {
        "customer_id": format_ids("C", numbers, id_width(n_records, 7)),
        "signup_date": format_dates(epoch_day(start) + signup),
        "source_system": categorical(source, SOURCE_SYSTEMS),
        **contacts,
        **_draw_profile(rng, people, person),
        **_draw_consents(rng, n_records),
        "do_not_contact": format_bools(dnc),
        "preferred_channel": categorical(rng.integers(0, 4, n_records), PREFERRED_CHANNELS,
                                         rng.random(n_records) < 0.15),
        "language": categorical(people.lang[person].astype(np.int64), LANGUAGES,
                                (person * 7919) % 10 >= LANGUAGE_KNOWN_SHARE_TENTHS),
        "updated_at": format_timestamps((epoch_day(start) + signup) * 86400
                                        + (rng.random(n_records) * (n_days - signup) * 86400).astype(np.int64)),
    }
    customers = pa.table(columns).take(pa.array(np.argsort(numbers, kind="stable")))
    return Records(number_a=number_a, number_b=number_b, signup_b=signup_b, width=id_width(n_records, 7),
                   customers=customers)


def _draw_contacts(rng, people: People, person: np.ndarray, is_b: np.ndarray, kind: np.ndarray, n: int) -> dict:
    """Names, email and phone of every record; a duplicate shares a key written differently.

    kind (per record): -1 the person has no duplicate, 0 email variant, 1 phone only, 2 both.
    """
    n_records = len(person)
    first_pool, last_pool, first_code, last_code = _name_codes(rng, people.lang, n)
    first, last = first_pool.take(pa.array(first_code[person])), last_pool.take(pa.array(last_code[person]))
    folded_first = pa.array([fold_ascii(x) for x in first_pool.to_pylist()]).take(pa.array(first_code[person]))
    folded_last = pa.array([fold_ascii(x) for x in last_pool.to_pylist()]).take(pa.array(last_code[person]))
    separator = take_strings([".", "", "_"], rng.integers(0, 3, n)[person])
    domain = take_strings(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), n)[person])
    # The trailing number makes every address unique; a phone-only duplicate carries a second address.
    number = np.where(is_b & (kind == 1), n + np.arange(n_records), person + 1)
    email = join(folded_first, separator, folded_last, pc.cast(pa.array(number), pa.string()), "@", domain)
    email = _email_variant(rng, email, is_b & (kind != 1))
    chance = rng.random(n_records)
    no_email = np.where(is_b, (kind == 1) & (chance < 0.5), ((kind == -1) | (kind == 1)) & (chance < 0.04))
    phone_format = rng.choice(PHONE_FORMATS, n, p=[0.3, 0.35, 0.1, 0.15, 0.1])[person]
    phone_format = np.where(is_b, (phone_format + rng.integers(1, PHONE_FORMATS, n_records)) % PHONE_FORMATS,
                            phone_format)
    country = _phone_country(people.lang)
    foreign = country[person] != 0
    phone_format = np.where(foreign & (phone_format == 1), 3, np.where(foreign & (phone_format == 4), 0, phone_format))
    phone = _format_phones(_national_numbers(_phone_numbers(rng, n), country)[person], country[person], phone_format)
    chance = rng.random(n_records)
    no_phone = np.where(is_b, (kind == 0) & (chance < 0.5), ((kind == -1) | (kind == 0)) & (chance < 0.08))
    shout = pa.array(is_b & (rng.random(n_records) < 0.3))     # the other system stores names in capitals
    missing = pa.scalar(None, pa.string())
    return {
        "email": pc.if_else(pa.array(no_email), missing, email),
        "phone": pc.if_else(pa.array(no_phone), missing, phone),
        "first_name": pc.if_else(shout, pc.utf8_upper(first), first),
        "last_name": pc.if_else(shout, pc.utf8_upper(last), last),
    }


def _name_codes(rng, lang: np.ndarray, n: int):
    """Pools of all first / last names and each person's index into them (names follow the language)."""
    first_all, last_all = [], []
    first_code, last_code = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for code, language in enumerate(LANGUAGES):
        members = np.flatnonzero(lang == code)
        first_code[members] = len(first_all) + rng.integers(0, len(FIRST_NAMES[language]), len(members))
        last_code[members] = len(last_all) + rng.integers(0, len(LAST_NAMES[language]), len(members))
        first_all += FIRST_NAMES[language]
        last_all += LAST_NAMES[language]
    return pa.array(first_all), pa.array(last_all), first_code, last_code


def _email_variant(rng, email: pa.Array, variant: np.ndarray) -> pa.Array:
    """The same address written differently where `variant`: capitals and/or stray spaces."""
    style = rng.integers(0, 4, len(variant))
    upper, capital = pc.utf8_upper(email), pc.utf8_capitalize(email)
    out = pc.if_else(pa.array(variant & (style == 0)), upper, email)
    out = pc.if_else(pa.array(variant & (style == 1)), join(capital, " "), out)
    out = pc.if_else(pa.array(variant & (style == 2)), join(" ", email), out)
    return pc.if_else(pa.array(variant & (style == 3)), join(" ", capital, " "), out)


def _phone_numbers(rng, n: int) -> np.ndarray:
    """n distinct, valid 9-digit Spanish mobile numbers (affine bijection of the person index)."""
    offset = int(rng.integers(0, _PHONE_RANGE))
    value = (np.arange(n, dtype=np.int64) * _PHONE_STRIDE + offset) % _PHONE_RANGE
    numbers = np.where(value < 100_000_000, 600_000_000 + value, 610_000_000 + value)
    runs = np.isin(numbers, _RUN_NUMBERS)
    return np.where(runs, 980_000_000 + numbers % 10_000_000, numbers)


def _phone_country(lang: np.ndarray) -> np.ndarray:
    """Index into PHONE_COUNTRY_CODES per person: by language, half of the en speakers (odd index) British."""
    code = np.zeros(len(lang), dtype=np.int8)
    code[lang == LANGUAGES.index("pt")] = 1
    code[(lang == LANGUAGES.index("en")) & (np.arange(len(lang)) % 2 == 1)] = 2
    return code


def _national_numbers(spanish: np.ndarray, country: np.ndarray) -> np.ndarray:
    """Each person's national number: the Spanish mobile, or a distinct Portuguese (9 digits, 91/92/93) or
    British (10 digits, 7400...) mobile numbered by person index."""
    index = np.arange(len(spanish), dtype=np.int64)
    portuguese = 910_000_000 + index % 30_000_000
    portuguese = np.where(np.isin(portuguese, _RUN_NUMBERS), portuguese + 20_000_000, portuguese)
    return np.select([country == 1, country == 2], [portuguese, 7_400_000_000 + index % 10_000_000], spanish)


def _format_phones(numbers: np.ndarray, country: np.ndarray, style: np.ndarray) -> pa.Array:
    """Write each number in one of PHONE_FORMATS with its country code (PHONE_COUNTRY_CODES[country])."""
    digits = pc.cast(pa.array(numbers), pa.string())
    code = take_strings(list(PHONE_COUNTRY_CODES), country)
    cut = np.where(country == 2, 4, 3)    # British mobiles are grouped 4 + 6
    head = pc.utf8_slice_codeunits(digits, 0, 3)
    head = pc.if_else(pa.array(cut == 4), pc.utf8_slice_codeunits(digits, 0, 4), head)
    middle = pc.if_else(pa.array(cut == 4), pc.utf8_slice_codeunits(digits, 4, 7), pc.utf8_slice_codeunits(digits, 3, 6))
    tail = pc.if_else(pa.array(cut == 4), pc.utf8_slice_codeunits(digits, 7, 10), pc.utf8_slice_codeunits(digits, 6, 9))
    part = [pc.utf8_slice_codeunits(digits, a, b) for a, b in ((3, 5), (5, 7), (7, 9))]
    written = [join("+", code, " ", head, " ", middle, " ", tail), digits, join("00", code, digits),
               join("+", code, digits), join(head, " ", part[0], " ", part[1], " ", part[2])]
    out = written[0]
    for code in range(1, PHONE_FORMATS):
        out = pc.if_else(pa.array(style == code), written[code], out)
    return out


def _draw_profile(rng, people: People, person: np.ndarray) -> dict:
    """birth_year, region and segment (shared by a person's records)."""
    n = people.n
    birth = np.clip(np.rint(rng.normal(1980, 14, n)), 1940, 2007).astype(np.int16)
    birth_missing = rng.random(n) < 0.04
    region_pool, region_code = [], np.zeros(n, dtype=np.int64)
    for code, language in enumerate(LANGUAGES):
        members = np.flatnonzero(people.lang == code)
        region_code[members] = len(region_pool) + rng.integers(0, len(REGIONS[language]), len(members))
        region_pool += REGIONS[language]
    segment = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    segment = np.where(birth < 1960, 4, np.where(birth > 2001, 3, segment))
    segment = np.where((people.tier == 2) & (rng.random(n) < 0.4), 5, segment)
    return {
        "birth_year": pa.array(birth[person], mask=birth_missing[person]),
        "region": pa.array(region_pool).take(pa.array(region_code[person])),
        "segment": categorical(segment[person], SEGMENTS),
    }


def _draw_consents(rng, n_records: int) -> dict:
    """consent_email/sms/phone/app as "true"/"false", a few missing."""
    return {name: format_bools(rng.random(n_records) < share, rng.random(n_records) < CONSENT_MISSING_SHARE)
            for name, share in CONSENT_TRUE_SHARE.items()}
