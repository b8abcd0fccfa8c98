"""Companies, currencies, sales teams, salespeople and the catalogues (segments,
industries, UTM campaigns/sources/mediums, lost reasons, stages, activity
types) the generated records refer to.

Everything here goes through the ORM, is small, and is idempotent: records are
found again through ``kpi_populate.*`` xmlids, so a second run (or the second
half of the equivalence test) reuses them.
"""

from dateutil.relativedelta import relativedelta

from odoo import Command
from odoo.tools import SQL

from . import names
from .common import ensure_record, slug

MAIN_COMPANY = {
    "name": "Nordlicht Systemhaus GmbH",
    "street": "Große Elbstraße 145",
    "zip": "22767",
    "city": "Hamburg",
    "email": "info@nordlicht-systemhaus.de",
    "phone": "+49 40 3861920",
    "website": "https://www.nordlicht-systemhaus.de",
    "vat": "DE298765431",
    "company_registry": "HRB 145872",
}
SWISS_COMPANY = {
    "name": "Nordlicht Systemhaus (Schweiz) AG",
    "street": "Hardturmstrasse 101",
    "zip": "8005",
    "city": "Zürich",
    "email": "info@nordlicht-systemhaus.ch",
    "phone": "+41 44 5523100",
    "website": "https://www.nordlicht-systemhaus.ch",
    "vat": "CHE-412.538.771 MWST",
}
CHF_PER_EUR = 0.94

# (xmlid suffix, name, company key, region of its customers)
TEAMS = (
    ("team_north", "Vertrieb Nord", "main", "north"),
    ("team_south", "Vertrieb Süd", "main", "south"),
    ("team_key_accounts", "Key Account Management", "main", "key"),
    ("team_switzerland", "Vertrieb Schweiz", "ch", "ch"),
)
SALESPEOPLE = (
    ("Jonas", "Petersen"),
    ("Lea", "Hansen"),
    ("Finn", "Jensen"),
    ("Mia", "Claussen"),
    ("Tobias", "Huber"),
    ("Sophie", "Brandl"),
    ("Lukas", "Gruber"),
    ("Katharina", "Wimmer"),
    ("Michael", "Schröder"),
    ("Julia", "von Berg"),
    ("Reto", "Gerber"),
    ("Seraina", "Caduff"),
    ("Beat", "Zimmerli"),
    ("Corinne", "Widmer"),
    ("Ole", "Carstens"),
    ("Nele", "Ahrens"),
    ("Maximilian", "Bauer"),
    ("Anna", "Lechner"),
    ("Stefan", "Kofler"),
    ("Laura", "Sommer"),
    ("Urs", "Meier"),
    ("Nina", "Brunner"),
)
# (xmlid, name, sequence, share of customers, company sizes)
SEGMENTS = (
    # the names of the module's default segments, which are reused
    ("segment_small", "Small businesses", 10, 10, ("micro", "small")),
    ("segment_mid", "Mid-market", 20, 4, ("medium",)),
    ("segment_key", "Key accounts", 30, 1, ("large",)),
)
INDUSTRIES = (
    # base xmlid suffix, weight
    ("res_partner_industry_C", 26),
    ("res_partner_industry_G", 18),
    ("res_partner_industry_J", 10),
    ("res_partner_industry_F", 10),
    ("res_partner_industry_H", 8),
    ("res_partner_industry_Q", 7),
    ("res_partner_industry_M", 6),
    ("res_partner_industry_K", 4),
    ("res_partner_industry_I", 4),
    ("res_partner_industry_D", 2),
    ("res_partner_industry_L", 2),
    ("res_partner_industry_S", 2),
    ("res_partner_industry_O", 1),
)
LOST_REASONS = (
    ("lost_price", "Too expensive", "crm.lost_reason_1"),
    ("lost_competitor", "Chose a competitor", None),
    ("lost_budget", "No budget", None),
    ("lost_no_response", "No response", None),
    ("lost_postponed", "Project postponed", None),
    ("lost_not_fit", "Not a fit for our offer", None),
)
# (key, source name, medium name)
CHANNELS = (
    ("web", "Search engine", "Website"),
    ("ads", "Search engine", "Google Adwords"),
    ("newsletter", "Newsletter", "Email"),
    ("linkedin", "LinkedIn", "LinkedIn"),
    ("fair", "Trade fair", "Direct"),
    ("referral", "Referral", "Direct"),
    ("phone", "Cold call", "Phone"),
    ("direct", None, "Direct"),
)


def populate_companies(ctx):
    """The main company (German, EUR) and a Swiss subsidiary (CHF)."""
    env = ctx.env
    countries = {
        code: env["res.country"].search([("code", "=", code)], limit=1)
        for code in ("DE", "AT", "CH", "NL", "IT", "FR", "LU", "BE")
    }
    eur = env.ref("base.EUR").with_context(active_test=False)
    chf = env.ref("base.CHF").with_context(active_test=False)
    (eur | chf).filtered(lambda currency: not currency.active).active = True

    main = env.ref("base.main_company")
    values = {"currency_id": eur.id, "country_id": countries["DE"].id}
    if main.name in ("YourCompany", "My Company"):
        values.update(MAIN_COMPANY)
    main.write(values)
    main.partner_id.tz = "Europe/Berlin"

    values = dict(SWISS_COMPANY, currency_id=chf.id, country_id=countries["CH"].id)
    if "iap_enrich_auto_done" in env["res.company"]._fields:
        # partner_autocomplete would ask an online service about the website
        values["iap_enrich_auto_done"] = True
    swiss = ensure_record(
        env,
        "company_ch",
        "res.company",
        values,
        domain=[("name", "=", SWISS_COMPANY["name"])],
    )
    swiss.partner_id.tz = "Europe/Zurich"
    admin = env.ref("base.user_admin", raise_if_not_found=False)
    if admin and swiss not in admin.company_ids:
        admin.company_ids = [Command.link(swiss.id)]

    # a rate per month, drifting slightly: CHF for the main company, EUR for
    # the Swiss one
    rates = env["res.currency.rate"]
    existing = {
        (rate.company_id.id, rate.currency_id.id, rate.name)
        for rate in rates.search([("company_id", "in", (main | swiss).ids)])
    }
    rng = ctx.rng("currency")
    values = []
    for month in ctx.months:
        chf_per_eur = round(CHF_PER_EUR + rng.uniform(-0.03, 0.03), 4)
        for company, currency, rate in (
            (main, chf, chf_per_eur),
            (swiss, eur, round(1 / chf_per_eur, 6)),
        ):
            if (company.id, currency.id, month) not in existing:
                values.append(
                    {
                        "name": month,
                        "currency_id": currency.id,
                        "company_id": company.id,
                        "rate": rate,
                    }
                )
    rates.create(values)
    ctx.ref.update(
        company={"main": main, "ch": swiss},
        countries=countries,
        currency={"main": eur, "ch": chf},
    )
    return main | swiss


def ensure_user(ctx, xmlid, first, last, login, company_key, groups):
    """The internal user ``login``@<the company's domain> of the generated
    company ``company_key``, in ``groups``; no invitation e-mail."""
    env = ctx.env
    company = ctx.ref["company"][company_key]
    login = f"{login}@nordlicht-systemhaus.{'ch' if company_key == 'ch' else 'de'}"
    return ensure_record(
        env(context=dict(env.context, no_reset_password=True)),
        xmlid,
        "res.users",
        {
            "name": f"{first} {last}",
            "login": login,
            "email": login,
            "company_id": company.id,
            "company_ids": [Command.set(company.ids)],
            "tz": "Europe/Zurich" if company_key == "ch" else "Europe/Berlin",
            "group_ids": [Command.set((groups | env.ref("base.group_user")).ids)],
        },
        domain=[("login", "=", login)],
    )


def populate_users(ctx):
    """Sales teams per company, their salespeople and team memberships."""
    env = ctx.env
    companies = ctx.ref["company"]
    salesman = env.ref("sales_team.group_sale_salesman")
    all_leads = env.ref("sales_team.group_sale_salesman_all_leads")
    teams, members = {}, {}
    people = _salespeople(ctx, sum(ctx.spec["teams"]))
    for (xmlid, team_name, company_key, region), size in zip(
        TEAMS, ctx.spec["teams"], strict=True
    ):
        company = companies[company_key]
        users = env["res.users"]
        for index in range(size):
            first, last, login = next(people)
            users |= ensure_user(
                ctx,
                f"user_{xmlid}_{index}",
                first,
                last,
                login,
                company_key,
                all_leads if index == 0 else salesman,
            )
        team = ensure_record(
            env,
            xmlid,
            "crm.team",
            {
                "name": team_name,
                "company_id": company.id,
                "user_id": users[:1].id,
                "use_leads": True,
                "use_opportunities": True,
            },
        )
        missing = users - team.member_ids
        if missing:
            env["crm.team.member"].create(
                [{"crm_team_id": team.id, "user_id": user.id} for user in missing]
            )
        teams[region] = team
        members[region] = users
    _enable_leads(env)
    ctx.ref.update(teams=teams, members=members)
    # the salespeople joined before the CRM history starts
    env.flush_all()
    ctx.cr.execute(
        SQL(
            "UPDATE res_users SET create_date = %s WHERE id IN %s AND create_date > %s",
            ctx.start - relativedelta(months=1),
            tuple(user.id for users in members.values() for user in users),
            ctx.start,
        )
    )
    env["res.users"].invalidate_model(["create_date"])
    return teams


def _salespeople(ctx, count):
    """(first name, last name, login) of ``count`` distinct salespeople."""
    rng = ctx.rng("users")
    people = list(SALESPEOPLE)
    while len(people) < count:
        person = (rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES))
        if person not in people:
            people.append(person)
    logins = set()
    for first, last in people[:count]:
        login = base = f"{slug(first)[0]}.{slug(last.split()[-1])}"
        suffix = 1
        while login in logins:
            suffix += 1
            login = f"{base}{suffix}"
        logins.add(login)
        yield first, last, login


def _enable_leads(env):
    """Leads (not only opportunities) are part of the funnel: show them."""
    group = env.ref("crm.group_use_lead", raise_if_not_found=False)
    user_group = env.ref("base.group_user")
    if group and group not in user_group.implied_ids:
        user_group.implied_ids = [Command.link(group.id)]


def populate_catalogues(ctx):
    """Segments, industries, UTM records, lost reasons, stages and activity
    types."""
    env = ctx.env
    segments = {}
    by_size = "kpi_company_size" in env["res.partner"]._fields
    for xmlid, name, sequence, _weight, sizes in SEGMENTS:
        values = {"name": name, "sequence": sequence}
        if by_size and "rule" in env["crm.kpi.segment"]._fields:
            # the segment rules give every customer the segment of its size
            values["rule"] = repr([("kpi_company_size", "in", list(sizes))])
        segments[xmlid] = ensure_record(
            env, xmlid, "crm.kpi.segment", values, domain=[("name", "=", name)]
        )
    industries = [
        (env.ref(f"base.{xmlid}"), weight)
        for xmlid, weight in INDUSTRIES
        if env.ref(f"base.{xmlid}", raise_if_not_found=False)
    ]
    mediums = {
        name: ensure_record(
            env,
            f"medium_{name.lower().replace(' ', '_')}",
            "utm.medium",
            {"name": name},
            domain=[("name", "=", name)],
        )
        for name in {medium for _key, _source, medium in CHANNELS}
    }
    sources = {
        name: ensure_record(
            env,
            f"source_{name.lower().replace(' ', '_')}",
            "utm.source",
            {"name": name},
            domain=[("name", "=", name)],
        )
        for name in {source for _key, source, _medium in CHANNELS if source}
    }
    sources["Referral"].kpi_is_referral = True
    lost_reasons = {}
    for xmlid, name, odoo_xmlid in LOST_REASONS:
        domain = [("name", "=", name)]
        if odoo_xmlid and env.ref(odoo_xmlid, raise_if_not_found=False):
            domain = [("id", "=", env.ref(odoo_xmlid).id)]
        lost_reasons[xmlid] = ensure_record(
            env, xmlid, "crm.lost.reason", {"name": name}, domain=domain
        )
    stages = {}
    for key, xmlid, name, sequence, is_won in (
        ("new", "crm.stage_lead1", "New", 1, False),
        ("qualified", "crm.stage_lead2", "Qualified", 2, False),
        ("proposition", "crm.stage_lead3", "Proposition", 3, False),
        ("won", "crm.stage_lead4", "Won", 70, True),
    ):
        stage = env.ref(xmlid, raise_if_not_found=False)
        stages[key] = stage or ensure_record(
            env,
            f"stage_{key}",
            "crm.stage",
            {"name": name, "sequence": sequence, "is_won": is_won},
            domain=[("is_won", "=", is_won), ("team_ids", "=", False)],
        )
    activity_types = {
        key: env.ref(f"mail.mail_activity_data_{key}")
        for key in ("call", "meeting", "email")
    }
    for lang in ("de_DE", "de_CH"):
        env["res.lang"]._activate_lang(lang)
    ctx.ref.update(
        segments=segments,
        industries=industries,
        mediums=mediums,
        sources=sources,
        lost_reasons=lost_reasons,
        stages=stages,
        activity_types=activity_types,
        langs={
            lang.code: lang.id
            for lang in env["res.lang"].with_context(active_test=False).search([])
        },
        campaigns=_populate_campaigns(ctx),
    )


def _campaign_plan(ctx):
    """(xmlid, title, channel, first month, last month) of the marketing
    campaigns over the generated period."""
    plan = []
    years = sorted({month.year for month in ctx.months})
    for year in years:

        def month(number, _year=year):
            return ctx.start_month.replace(year=_year, month=number)

        plan += [
            (f"campaign_ads_{year}", f"Google Ads {year}", "ads", month(1), month(12)),
            (
                f"campaign_linkedin_h1_{year}",
                f"LinkedIn Kampagne H1 {year}",
                "linkedin",
                month(2),
                month(6),
            ),
            (
                f"campaign_linkedin_h2_{year}",
                f"LinkedIn Kampagne H2 {year}",
                "linkedin",
                month(9),
                month(11),
            ),
            (
                f"campaign_fair_hm_{year}",
                f"Hannover Messe {year}",
                "fair",
                month(4),
                month(5),
            ),
            (
                f"campaign_fair_itsa_{year}",
                f"it-sa Nürnberg {year}",
                "fair",
                month(10),
                month(11),
            ),
            (
                f"campaign_webinar_{year}",
                f"Webinar-Reihe Digitalisierung {year}",
                "web",
                month(3),
                month(4),
            ),
        ]
        for quarter in range(4):
            plan.append(
                (
                    f"campaign_newsletter_{year}_q{quarter + 1}",
                    f"Newsletter Q{quarter + 1} {year}",
                    "newsletter",
                    month(3 * quarter + 1),
                    month(3 * quarter + 3),
                )
            )
    return [
        item for item in plan if item[4] >= ctx.start_month and item[3] <= ctx.end_month
    ]


def _populate_campaigns(ctx):
    env = ctx.env
    admin = env.ref("base.user_admin", raise_if_not_found=False) or env.user
    campaigns = []
    for xmlid, title, channel, first, last in _campaign_plan(ctx):
        campaign = ensure_record(
            env,
            xmlid,
            "utm.campaign",
            {"title": title, "name": title, "user_id": admin.id},
            domain=[("name", "=", title)],
        )
        campaigns.append((campaign, channel, first, last))
    return campaigns
