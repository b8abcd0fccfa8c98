"""Writing the planned leads: through the ORM (small sizes) or in bulk
with the computed columns ``crm.lead`` derives (see ``plan_leads``)."""

from odoo.exceptions import UserError

from odoo.addons.phone_validation.tools import phone_validation

from .common import analyze, copy_rows, dropped_indexes, reserve_ids
from .partners import email_values, sanitize_phone, set_log_access

ORM_FIELDS = (
    "name",
    "type",
    "priority",
    "user_id",
    "team_id",
    "company_id",
    "stage_id",
    "contact_name",
    "partner_name",
    "email_from",
    "phone",
    "function",
    "street",
    "zip",
    "city",
    "state_id",
    "country_id",
    "expected_revenue",
    "probability",
    "automated_probability",
    "active",
    "lost_reason_id",
    "date_open",
    "date_conversion",
    "date_closed",
    "date_last_stage_update",
    "date_deadline",
    "campaign_id",
    "source_id",
    "medium_id",
    "kpi_deal_type",
)
ADDRESS_FIELDS = ("street", "street2", "zip", "city", "state_id", "country_id")


def write_leads(ctx):
    if ctx.method == "orm":
        ids = _write_orm(ctx, ctx.leads)
    else:
        ids = _write_sql(ctx, ctx.leads)
    ctx.lead_ids = ids
    ctx.counts["crm.lead"] = len(ids)
    analyze(ctx.cr, "crm_lead")
    return ids


def _orm_values(lead, partner_ids):
    values = {field: lead[field] for field in ORM_FIELDS}
    if lead["partner"]:
        values["partner_id"] = partner_ids[lead["partner"]["seq"]]
    if lead["referrer"]:
        values["kpi_referrer_id"] = partner_ids[lead["referrer"]["seq"]]
    values = {key: value for key, value in values.items() if value is not None}
    # an unassigned lead: without the key, the salesperson would default to
    # the current user
    values.setdefault("user_id", False)
    return values


def _write_orm(ctx, leads):
    env = ctx.env
    Lead = env["crm.lead"].with_context(
        tracking_disable=True, mail_create_nolog=True, mail_notrack=True
    )
    ids = []
    for start in range(0, len(leads), 500):
        chunk = leads[start : start + 500]
        records = Lead.create([_orm_values(lead, ctx.partner_ids) for lead in chunk])
        ids += records.ids
    env.flush_all()
    log_rows = [
        (lead_id, lead["create_date"], lead["write_date"], lead["user_id"] or env.uid)
        for lead_id, lead in zip(ids, leads, strict=True)
    ]
    set_log_access(ctx, "crm_lead", log_rows)
    records = env["crm.lead"].browse(ids)
    records.invalidate_recordset()
    # day_open and day_close depend on create_date, dated only now
    records.modified(["create_date"])
    env.flush_all()
    set_log_access(ctx, "crm_lead", log_rows)
    records.invalidate_recordset()
    return ids


SQL_COLUMNS = (
    "id",
    "name",
    "type",
    "priority",
    "user_id",
    "team_id",
    "company_id",
    "stage_id",
    "partner_id",
    "kpi_referrer_id",
    "contact_name",
    "partner_name",
    "function",
    "website",
    "lang_id",
    "street",
    "street2",
    "zip",
    "city",
    "state_id",
    "country_id",
    "email_from",
    "email_normalized",
    "email_domain_criterion",
    "email_state",
    "phone",
    "phone_sanitized",
    "phone_state",
    "expected_revenue",
    "prorated_revenue",
    "recurring_revenue",
    "recurring_revenue_monthly",
    "recurring_revenue_monthly_prorated",
    "recurring_revenue_prorated",
    "probability",
    "automated_probability",
    "won_status",
    "active",
    "lost_reason_id",
    "date_open",
    "date_conversion",
    "date_closed",
    "date_last_stage_update",
    "date_deadline",
    "day_open",
    "day_close",
    "campaign_id",
    "source_id",
    "medium_id",
    "kpi_deal_type",
    "color",
    "message_bounce",
    "create_date",
    "write_date",
    "create_uid",
    "write_uid",
)


def _phone_state(phone, country):
    if not phone:
        return None
    try:
        parsed = phone_validation.phone_parse(phone, country.code if country else None)
    except UserError:
        return "incorrect"
    return "correct" if parsed else None


def _write_sql(ctx, leads):
    env = ctx.env
    env.flush_all()
    ids = reserve_ids(ctx.cr, "crm_lead", len(leads))
    partner_ids = ctx.partner_ids
    countries = {c.id: c for c in env["res.country"].search([])}
    langs = ctx.ref["langs"]
    won_stage = ctx.ref["stages"]["won"].id
    clean_website = env["res.partner"]._clean_website
    cache = {}
    emails = ctx.emails

    def cached(key, function, *args):
        if key not in cache:
            cache[key] = function(*args)
        return cache[key]

    def row(lead_id, lead):
        values = dict(lead)
        partner = lead["partner"]
        if partner:
            parent = partner.get("parent")
            if any(partner[field] for field in ADDRESS_FIELDS if field in partner):
                values.update({f: partner.get(f) for f in ADDRESS_FIELDS})
            values["contact_name"] = (
                lead["contact_name"] if partner["is_company"] else partner["name"]
            )
            values["partner_name"] = (
                parent["name"] if parent else partner["name"]
            ) or lead["partner_name"]
            values["function"] = partner["function"] or lead["function"]
            values["website"] = partner["website"] and clean_website(partner["website"])
            values["lang_id"] = langs.get(partner["lang"])
            values["email_from"] = partner["email"] or lead["email_from"]
            values["phone"] = partner["phone"] or lead["phone"]
        else:
            values.setdefault("website", None)
            values["lang_id"] = None
            values.setdefault("street2", None)
        email = values["email_from"]
        normalized, domain_criterion, email_state = email_values(emails, email)
        country = countries.get(values["country_id"])
        phone_country = country or (
            countries.get(partner["country_id"]) if partner else None
        )
        phone = values["phone"]
        probability = values["probability"] or 0.0
        create_date = values["create_date"]
        date_open = values["date_open"]
        date_closed = values["date_closed"]
        expected = values["expected_revenue"]
        if probability == 100 and values["stage_id"] == won_stage:
            won_status = "won"
        elif not values["active"] and probability == 0:
            won_status = "lost"
        else:
            won_status = "pending"
        return (
            lead_id,
            values["name"],
            values["type"],
            values["priority"],
            values["user_id"],
            values["team_id"],
            values["company_id"],
            values["stage_id"],
            partner and partner_ids[partner["seq"]],
            lead["referrer"] and partner_ids[lead["referrer"]["seq"]],
            values["contact_name"],
            values["partner_name"],
            values["function"],
            values.get("website"),
            values["lang_id"],
            values["street"],
            values.get("street2"),
            values["zip"],
            values["city"],
            values["state_id"],
            values["country_id"],
            email,
            normalized,
            domain_criterion,
            email_state,
            phone,
            cached(
                ("sanitized", phone, phone_country),
                sanitize_phone,
                env,
                phone,
                phone_country,
            ),
            cached(("phone", phone, country), _phone_state, phone, country),
            expected,
            round(expected * probability / 100.0, 2),
            0.0,
            0.0,
            0.0,
            0.0,
            values["probability"],
            values["automated_probability"],
            won_status,
            values["active"],
            values["lost_reason_id"],
            date_open,
            values["date_conversion"],
            date_closed,
            values["date_last_stage_update"],
            values["date_deadline"],
            float(abs((date_open - create_date).days)) if date_open else 0.0,
            float(abs((date_closed - create_date).days)) if date_closed else 0.0,
            values["campaign_id"],
            values["source_id"],
            values["medium_id"],
            values["kpi_deal_type"],
            0,
            0,
            create_date,
            values["write_date"],
            values["user_id"] or env.uid,
            values["user_id"] or env.uid,
        )

    with dropped_indexes(ctx.cr, "crm_lead", enabled=len(leads) > 50_000):
        copy_rows(
            ctx.cr,
            "crm_lead",
            SQL_COLUMNS,
            (row(lead_id, lead) for lead_id, lead in zip(ids, leads, strict=True)),
        )
    env["crm.lead"].invalidate_model()
    return ids
