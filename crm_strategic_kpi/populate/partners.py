"""Customers: companies (``is_company``) with one to three contacts each.

The plan fixes every stored input of a partner; the lead plan then dates the
partners (a customer is created when its first deal is qualified). The SQL
writer derives the computed columns exactly as ``res.partner`` does.
"""

import re
from datetime import timedelta

from odoo.exceptions import UserError
from odoo.tools import SQL, email_normalize, email_normalize_all

from odoo.addons.iap.tools import iap_tools
from odoo.addons.mail.tools import mail_validation
from odoo.addons.phone_validation.tools import phone_validation

from . import names
from .common import analyze, copy_rows, dropped_indexes, reserve_ids, slug, weighted
from .setup import SEGMENTS

COUNTRY_MIX = {
    "main": (
        ("DE", 72),
        ("AT", 17),
        ("CH", 6),
        ("NL", 1.5),
        ("IT", 1),
        ("FR", 1),
        ("LU", 0.8),
        ("BE", 0.7),
    ),
    "ch": (("CH", 86), ("DE", 9), ("AT", 5)),
}
# mail_validate checks addresses with flanker when it is installed
FLANKER = hasattr(mail_validation, "address")
ADDRESS_FIELDS = ("street", "street2", "zip", "city", "state_id", "country_id")
ORM_FIELDS = (
    "name",
    "is_company",
    "company_id",
    "user_id",
    "industry_id",
    "kpi_segment_id",
    "kpi_company_size",
    "street",
    "zip",
    "city",
    "state_id",
    "country_id",
    "email",
    "phone",
    "website",
    "vat",
    "ref",
    "function",
    "lang",
    "tz",
    "type",
    "calendar_last_notif_ack",
)


def phone_number(rng, country, area=None, mobile=False):
    prefix = names.COUNTRY_PHONE[country]
    if mobile and country in names.MOBILE_PREFIXES:
        return (
            f"+{prefix} {rng.choice(names.MOBILE_PREFIXES[country])} "
            f"{rng.randint(1000000, 9999999)}"
        )
    digits = 7 if len(area or "") <= 2 else 6
    number = rng.randint(10 ** (digits - 1), 10**digits - 1)
    return f"+{prefix} {area} {number}" if area else f"+{prefix} {number}"


def plan_customers(ctx):
    """Draw the customer companies and their contacts (undated yet)."""
    rng = ctx.rng("partners")
    ref = ctx.ref
    companies = ref["company"]
    segments = [
        (ref["segments"][xmlid], key, weight, sizes)
        for (xmlid, _name, _seq, weight, sizes), key in zip(
            SEGMENTS, ("small", "mid", "key"), strict=True
        )
    ]
    with_size = "kpi_company_size" in ctx.env["res.partner"]._fields
    industries = [(industry.id, weight) for industry, weight in ref["industries"]]
    states = ctx.ref.setdefault("states", {})
    customers = []
    for index in range(ctx.spec["customers"]):
        company_key = "ch" if rng.random() < 0.15 else "main"
        segment, segment_key, _weight, sizes = rng.choices(
            segments, weights=[weight for _s, _k, weight, _sizes in segments]
        )[0]
        size = sizes[0] if len(sizes) == 1 or rng.random() < 0.45 else sizes[1]
        country = weighted(rng, COUNTRY_MIX[company_key])
        city, zip_code, area, state_code = rng.choice(names.CITIES[country])
        form = weighted(rng, names.LEGAL_FORMS.get(country, names.LEGAL_FORMS["other"]))
        last = rng.choice(names.LAST_NAMES)
        trade = rng.choice(names.TRADES)
        pattern = rng.random()
        if pattern < 0.4:
            base = f"{last} {trade}"
        elif pattern < 0.65:
            base = f"{rng.choice(names.PREFIXES)} {trade}"
        elif pattern < 0.8:
            base = f"{last} & {rng.choice(names.LAST_NAMES)}"
        elif pattern < 0.9:
            base = last
        else:
            base = f"{rng.choice(names.PREFIXES)}{trade.lower()}"
        domain = f"{slug(base)}.{names.COUNTRY_TLD[country]}"
        has_address = rng.random() > 0.04
        country_record = ref["countries"][country]
        state_id = None
        if has_address and state_code:
            key = (country, state_code)
            if key not in states:
                states[key] = (
                    ctx.env["res.country.state"]
                    .search(
                        [
                            ("country_id", "=", country_record.id),
                            ("code", "=", state_code),
                        ],
                        limit=1,
                    )
                    .id
                    or None
                )
            state_id = states[key]
        if company_key == "ch":
            region = "ch"
        elif segment_key == "key":
            region = "key"
        elif country == "DE":
            region = "north" if zip_code[0] in "01234" else "south"
        elif country in ("AT", "IT", "CH"):
            region = "south"
        else:
            region = "north"
        salesperson = rng.choice(ref["members"][region])
        vat = None
        if rng.random() < 0.65:
            number = rng.randint(100_000_000, 999_999_999)
            vat = {
                "DE": f"DE{number}",
                "AT": f"ATU{number // 10}",
                "CH": f"CHE-{number // 1_000_000:03d}.{number // 1000 % 1000:03d}."
                f"{number % 1000:03d} MWST",
            }.get(country)
        company = {
            "kind": "company",
            "segment": segment_key,
            "company_key": company_key,
            "country_code": country,
            "domain": domain,
            "region": region,
            "name": f"{base} {form}",
            "is_company": True,
            "company_id": companies[company_key].id,
            "user_id": salesperson.id,
            "industry_id": weighted(rng, industries),
            "kpi_segment_id": segment.id,
            "kpi_company_size": size if with_size else None,
            "street": (
                has_address and f"{rng.choice(names.STREETS)} {rng.randint(1, 180)}"
            )
            or None,
            "street2": None,
            "zip": (has_address and zip_code) or None,
            "city": (has_address and city) or None,
            "state_id": state_id,
            "country_id": (has_address and country_record.id) or None,
            "email": (
                rng.random() < 0.88
                and rng.choice(("info", "kontakt", "office", "vertrieb")) + f"@{domain}"
            )
            or None,
            "phone": (rng.random() < 0.85 and phone_number(rng, country, area)) or None,
            "website": (rng.random() < 0.75 and f"https://www.{domain}") or None,
            "vat": vat,
            "ref": f"K{10000 + index}",
            "function": None,
            "lang": names.COUNTRY_LANG.get(country, "en_US"),
            "tz": names.COUNTRY_TZ[country],
            "type": "contact",
            "contacts": [],
        }
        for _contact in range(weighted(rng, ((1, 45), (2, 35), (3, 20)))):
            first = rng.choice(names.FIRST_NAMES)
            surname = rng.choice(names.LAST_NAMES)
            mail_style = rng.random()
            if mail_style < 0.7:
                email = f"{slug(first)}.{slug(surname)}@{domain}"
            elif mail_style < 0.85:
                email = f"{slug(first)[0]}.{slug(surname)}@{domain}"
            elif mail_style < 0.92:
                email = f"{slug(first)}.{slug(surname)}@{rng.choice(names.FREE_MAIL)}"
            else:
                email = None
            phone_style = rng.random()
            if phone_style < 0.45:
                phone = phone_number(rng, country, mobile=True)
            elif phone_style < 0.8:
                phone = phone_number(rng, country, area)
            else:
                phone = None
            company["contacts"].append(
                dict(
                    {field: company[field] for field in ADDRESS_FIELDS},
                    kind="contact",
                    parent=company,
                    name=f"{first} {surname}",
                    is_company=False,
                    company_id=company["company_id"],
                    user_id=company["user_id"],
                    industry_id=company["industry_id"],
                    kpi_segment_id=None,
                    kpi_company_size=None,
                    email=email,
                    phone=phone,
                    website=None,
                    vat=company["vat"],
                    ref=None,
                    function=(
                        rng.choice(names.FUNCTIONS) if rng.random() < 0.7 else None
                    ),
                    lang=company["lang"],
                    tz=company["tz"],
                    type="contact",
                )
            )
        customers.append(company)
    ctx.customers = customers
    return customers


def order_partners(ctx):
    """Fix the creation order once the lead plan has dated every partner:
    companies first (their contacts need their ids), each group by date."""
    rng = ctx.rng("partner-dates")
    companies = [c for c in ctx.customers if c.get("create_date")]
    for company in companies:
        for contact in company["contacts"]:
            if not contact.get("create_date"):
                # a contact nobody had a deal with: added some time later
                contact["create_date"] = (
                    company["create_date"]
                    + min(
                        (ctx.now - company["create_date"]) * rng.random(),
                        timedelta(days=rng.randint(1, 400)),
                    )
                ).replace(microsecond=0)
    contacts = [p for c in companies for p in c["contacts"]]
    ordered = sorted(companies, key=lambda p: p["create_date"]) + sorted(
        contacts, key=lambda p: p["create_date"]
    )
    for position, partner in enumerate(ordered):
        partner["seq"] = position
    ctx.partners = ordered
    return ordered


def write_partners(ctx):
    partners = ctx.partners
    if ctx.method == "orm":
        ids = _write_orm(ctx, partners)
    else:
        ids = _write_sql(ctx, partners)
    ctx.partner_ids = ids
    ctx.counts["res.partner"] = len(ids)
    analyze(ctx.cr, "res_partner")
    return ids


def _orm_values(partner, ids):
    values = {field: partner[field] for field in ORM_FIELDS if field in partner}
    values["calendar_last_notif_ack"] = partner["create_date"]
    if partner["kind"] == "contact":
        values["parent_id"] = ids[partner["parent"]["seq"]]
    return {key: value for key, value in values.items() if value is not None}


def _write_orm(ctx, partners):
    env = ctx.env
    Partner = env["res.partner"].with_context(
        tracking_disable=True, mail_create_nolog=True
    )
    ids = [None] * len(partners)
    batch = 500
    for kind in ("company", "contact"):
        group = [p for p in partners if p["kind"] == kind]
        for start in range(0, len(group), batch):
            chunk = group[start : start + batch]
            records = Partner.create([_orm_values(p, ids) for p in chunk])
            for partner, record_id in zip(chunk, records.ids, strict=True):
                ids[partner["seq"]] = record_id
    env.flush_all()
    set_log_access(
        ctx,
        "res_partner",
        [
            (ids[p["seq"]], p["create_date"], p["create_date"], p["user_id"])
            for p in partners
        ],
    )
    env["res.partner"].invalidate_model()
    return ids


def set_log_access(ctx, table, rows):
    """Date records in the past, as created (and last written) by their
    salesperson: ``rows`` are (id, create_date, write_date, user id)."""
    for start in range(0, len(rows), 5000):
        ctx.cr.execute(
            SQL(
                """
                UPDATE %(table)s t
                   SET create_date = v.created, write_date = v.written,
                       create_uid = v.uid, write_uid = v.uid
                  FROM (VALUES %(values)s) v(id, created, written, uid)
                 WHERE t.id = v.id
                """,
                table=SQL.identifier(table),
                values=SQL(", ").join(
                    SQL("(%s, %s::timestamp, %s::timestamp, %s::int)", *row)
                    for row in rows[start : start + 5000]
                ),
            )
        )


SIMPLE_EMAIL = re.compile(
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*@[a-z0-9]+(?:[.-][a-z0-9]+)*\.[a-z]+"
)


def email_values(cache, email):
    """(email_normalized, email_domain_criterion, email_state) as the mail
    mixins compute them, cached. A plain lowercase address is its own
    normalized form, which spares the generic parser on big datasets."""
    if not email:
        return None, None, None
    if email not in cache:
        if SIMPLE_EMAIL.fullmatch(email):
            normalized, addresses = email, [email]
            domain = _domain_criterion(email)
        else:
            normalized = email_normalize(email, strict=False) or None
            addresses = email_normalize_all(email)
            domain = normalized and iap_tools.mail_prepare_for_domain_search(normalized)
        if FLANKER:
            valid = any(mail_validation.mail_validate(a) for a in addresses)
        else:
            # without flanker, mail_validate is email_normalize
            valid = bool(addresses)
        cache[email] = (normalized, domain, "correct" if valid else "incorrect")
    return cache[email]


def _domain_criterion(normalized):
    local, _at, domain = normalized.rpartition("@")
    if not local or domain in iap_tools._MAIL_DOMAIN_BLACKLIST:
        return normalized
    return "@" + domain


def sanitize_phone(env, number, country):
    """``mail.thread.phone``'s sanitized number (E.164 when the phonenumbers
    library is there, else the number as typed)."""
    if not number:
        return None
    country = country or env.company.country_id
    try:
        return (
            phone_validation.phone_format(
                number,
                country.code,
                country.phone_code,
                force_format="E164",
                raise_exception=True,
            )
            or None
        )
    except UserError:
        return None


SQL_COLUMNS = (
    "id",
    "name",
    "complete_name",
    "parent_id",
    "commercial_partner_id",
    "commercial_company_name",
    "is_company",
    "company_id",
    "user_id",
    "industry_id",
    "kpi_segment_id",
    "street",
    "zip",
    "city",
    "state_id",
    "country_id",
    "email",
    "email_normalized",
    "phone",
    "phone_sanitized",
    "website",
    "vat",
    "ref",
    "function",
    "lang",
    "tz",
    "type",
    "active",
    "partner_share",
    "color",
    "message_bounce",
    "calendar_last_notif_ack",
    "create_date",
    "write_date",
    "create_uid",
    "write_uid",
)
# columns written only when the field exists (added by later versions)
OPTIONAL_COLUMNS = ("kpi_company_size",)


def _write_sql(ctx, partners):
    env = ctx.env
    env.flush_all()
    ids = reserve_ids(ctx.cr, "res_partner", len(partners))
    countries = {c.id: c for c in ctx.ref["countries"].values()}
    clean_website = env["res.partner"]._clean_website
    phones = {}
    emails = ctx.emails

    def row(partner):
        own_id = ids[partner["seq"]]
        parent = partner.get("parent")
        country = countries.get(partner["country_id"])
        phone = partner["phone"]
        key = (phone, partner["country_id"])
        if key not in phones:
            phones[key] = sanitize_phone(env, phone, country)
        commercial = parent or partner
        name = partner["name"]
        return (
            own_id,
            name,
            f"{parent['name']}, {name}" if parent else name,
            parent and ids[parent["seq"]],
            ids[commercial["seq"]],
            commercial["name"] if commercial["is_company"] else None,
            partner["is_company"],
            partner["company_id"],
            partner["user_id"],
            partner["industry_id"],
            partner["kpi_segment_id"],
            partner["street"],
            partner["zip"],
            partner["city"],
            partner["state_id"],
            partner["country_id"],
            partner["email"],
            email_values(emails, partner["email"])[0],
            phone,
            phones[key],
            partner["website"] and clean_website(partner["website"]),
            partner["vat"],
            partner["ref"],
            partner["function"],
            partner["lang"],
            partner["tz"],
            partner["type"],
            True,
            True,
            0,
            0,
            partner["create_date"],
            partner["create_date"],
            partner["create_date"],
            partner["user_id"],
            partner["user_id"],
            *(partner[column] for column in optional),
        )

    optional = [c for c in OPTIONAL_COLUMNS if c in env["res.partner"]._fields]
    with dropped_indexes(ctx.cr, "res_partner", enabled=len(partners) > 50_000):
        copy_rows(
            ctx.cr, "res_partner", SQL_COLUMNS + tuple(optional), map(row, partners)
        )
    env["res.partner"].invalidate_model()
    return ids
