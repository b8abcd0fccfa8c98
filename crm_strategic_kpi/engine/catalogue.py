"""The KPIs the addon computes, each declared once (see ``declarations``),
and the sources they read. Bridges add theirs to ``core_catalogue()``
through ``crm.kpi.run._get_catalogue``."""

from datetime import datetime, timedelta

from odoo.tools import SQL

from .declarations import (
    SCOPE_FORWARD,
    SCOPE_MONTH,
    Catalogue,
    Kpi,
    Measure,
    RevenueSource,
    Source,
)
from .lifecycle import LIFECYCLE_STAGES
from .rules import DEFAULT_REVENUE_SOURCE, deal_revenue
from .sql import PARTNER_DIMS

COST_DIMS = ("team_id", "campaign_id")


# Sources ---------------------------------------------------------------
def _leads(run):
    return SQL(
        """kpi_tmp_lead l
           LEFT JOIN kpi_tmp_message msg ON msg.lead_id = l.id
           LEFT JOIN kpi_tmp_customer c
             ON c.company_id = l.company_id AND c.customer_id = l.customer_id"""
    )


def _open_deals(run):
    """Opportunities per month end they are open at: created before the end
    of the month and not closed before it. Archived leads that were never
    lost or won are left out. A run of recent months starts the series at
    its first month."""
    start = SQL("l.create_month")
    if run.month_from:
        start = SQL(
            "CASE WHEN l.create_month IS NOT NULL "
            "THEN GREATEST(l.create_month, %s::date) END",
            run.month_from,
        )
    return SQL(
        """
        (SELECT l.*, m::date AS month
           FROM kpi_tmp_lead l
          CROSS JOIN LATERAL generate_series(
                %(start)s::timestamp,
                COALESCE(l.closed_month - INTERVAL '1 month', %(to)s::timestamp),
                INTERVAL '1 month') m
          WHERE l.type = 'opportunity'
            AND (l.active OR l.won_status <> 'pending')
            -- open at the end of a month: closed in a later one
            AND (l.closed_month IS NULL OR l.closed_month > %(first)s)
            AND (l.closed_at IS NULL OR l.closed_at >= m + INTERVAL '1 month')) l
        """,
        start=start,
        first=run.month_from or "-infinity",
        to=run.month_to,
    )


def _feedback(run):
    segment, segment_join = run.segment_of(SQL("fb.commercial_partner_id"))
    return SQL(
        """
        (SELECT fb.id, fb.company_id, fb.team_id, fb.user_id, fb.kind, fb.score,
                %(segment)s AS segment_id,
                date_trunc('month', fb.date)::date AS month
           FROM crm_kpi_feedback fb %(segment_join)s
          WHERE %(companies)s AND %(since)s) f
        """,
        segment=segment,
        segment_join=segment_join,
        companies=run.in_companies(SQL("fb.company_id")),
        since=run.since(SQL("fb.date")),
    )


def _costs(run):
    """Costs and visitor counts; those of the running month count for the
    share of it that has passed (they are booked for the whole month)."""
    return SQL(
        """
        (SELECT k.id, k.company_id, k.team_id, k.campaign_id, k.category,
                k.amount * CASE WHEN date_trunc('month', k.date)::date
                                     = co.running_month
                                THEN co.running_share ELSE 1 END AS amount,
                date_trunc('month', k.date)::date AS month
           FROM crm_kpi_cost k
           JOIN kpi_tmp_company co ON co.id = k.company_id
          WHERE %(since)s) k
        """,
        since=run.since(SQL("k.date")),
    )


def _logins(run):
    """Logins per internal user and month (``users`` 1), and the anonymous
    monthly rows that keep the count of users whose logins were folded by
    the retention period (``user_id`` empty)."""
    return SQL(
        """
        (SELECT date_trunc('month', lg.day)::date AS month, lg.company_id,
                lg.user_id, SUM(lg.count)::numeric AS logins, 1 AS users
           FROM crm_kpi_user_login lg
           JOIN res_users u ON u.id = lg.user_id AND NOT u.share
          WHERE %(companies)s AND %(since)s
          GROUP BY 1, 2, 3
          UNION ALL
         SELECT date_trunc('month', lg.day)::date, lg.company_id, NULL::int,
                lg.count::numeric, lg.user_count
           FROM crm_kpi_user_login lg
          WHERE lg.user_id IS NULL AND %(companies)s AND %(since)s) g
        """,
        companies=run.in_companies(SQL("lg.company_id")),
        since=run.since(SQL("lg.day")),
    )


def _partners(run):
    """Contacts created per month, without users' and companies' own."""
    company = SQL("COALESCE(p.company_id, u.company_id, %s)", run.main_company_id)
    segment, segment_join = run.segment_of(SQL("p.commercial_partner_id"))
    return SQL(
        """
        (SELECT p.id, date_trunc('month', %(created)s)::date AS month,
                %(company)s AS company_id, pu.sale_team_id AS team_id,
                p.user_id, %(segment)s AS segment_id
           FROM res_partner p
           LEFT JOIN res_users u ON u.id = p.create_uid
           LEFT JOIN res_users pu ON pu.id = p.user_id
           %(segment_join)s
          WHERE %(in_run)s
            AND p.create_date >= %(since)s
            AND NOT EXISTS (SELECT 1 FROM res_users ru WHERE ru.partner_id = p.id)
            AND NOT EXISTS (SELECT 1 FROM res_company rc
                             WHERE rc.partner_id = p.id)) p
        """,
        created=run.local(SQL("p.create_date"), run.timezone_of(company)),
        company=company,
        segment=segment,
        segment_join=segment_join,
        in_run=run.in_companies(company),
        # local months start up to a day before the UTC ones
        since=run.month_from - timedelta(days=1) if run.month_from else datetime.min,
    )


def _purchases(run):
    """The customers' purchases (see ``RevenueSource``) in the computed
    months, with the customer's first purchase; dimensions: the purchase's
    team, salesperson and channel, the customer's segment."""
    segment, segment_join = run.segment_of(SQL("w.customer_id"))
    return SQL(
        """
        (SELECT w.*, w.closed_month AS month, %(segment)s AS segment_id,
                c.first_at
           FROM kpi_tmp_won w
           JOIN kpi_tmp_customer c
             ON c.company_id = w.company_id AND c.customer_id = w.customer_id
           %(segment_join)s
          WHERE %(since)s) w
        """,
        segment=segment,
        segment_join=segment_join,
        since=run.since(SQL("w.closed_month")),
    )


def _deal_customer_days(env, company_ids, scope):
    """The won deals of customers by UTC day (see
    ``RevenueSource.customer_days``)."""
    return SQL(
        """
        SELECT p.commercial_partner_id AS cp,
               COALESCE(l.company_id, t.company_id, %(main)s) AS company_id,
               l.date_closed::date AS day, %(revenue)s AS revenue, l.id,
               l.campaign_id, l.source_id, l.medium_id
          FROM crm_lead l
          JOIN res_partner p ON p.id = l.partner_id
          LEFT JOIN crm_team t ON t.id = l.team_id
         WHERE l.won_status = 'won' AND l.date_closed IS NOT NULL
           AND COALESCE(l.company_id, t.company_id, %(main)s) = ANY(%(companies)s)
           AND %(scope)s
        """,
        main=env.ref("base.main_company").id,
        revenue=deal_revenue("l"),
        companies=company_ids,
        scope=scope(SQL("p.commercial_partner_id")),
    )


# the addon's own revenue source: the expected revenue of won deals
DEALS = RevenueSource(
    DEFAULT_REVENUE_SOURCE,
    purchases=lambda run, company_ids, since: run.deal_purchases(company_ids, since),
    customer_days=_deal_customer_days,
    needs=("leads",),
)

SOURCES = (
    Source("lead", "l", _leads, "crm.lead", needs=("messages", "customers")),
    Source("open_deal", "l", _open_deals, "crm.lead", needs=("leads",)),
    Source(
        "customer",
        "b",
        lambda run: run.customer_rows(),
        "res.partner",
        res_id="customer_id",
        needs=("basis",),
        cube=lambda run: run.customer_cube(),
        cube_needs=("current", "products"),
    ),
    Source(
        "purchase",
        "w",
        _purchases,
        "crm.lead",
        res_model="res_model",
        needs=("customers",),
    ),
    Source(
        "lifecycle",
        "s",
        lambda run: run.lifecycle_rows(),
        "res.partner",
        res_id="partner_id",
        dims=PARTNER_DIMS,
        needs=("stage_spells",),
        cube=lambda run: run.lifecycle_cube(),
        cube_needs=("companies",),
    ),
    Source(
        "feedback",
        "f",
        _feedback,
        "crm.kpi.feedback",
        dims=PARTNER_DIMS,
        needs=("companies",),
    ),
    Source("cost", "k", _costs, "crm.kpi.cost", dims=COST_DIMS, needs=("companies",)),
    Source(
        "login",
        "g",
        _logins,
        "res.users",
        res_id="user_id",
        dims=("user_id",),
        needs=("companies",),
    ),
    Source(
        "partner",
        "p",
        _partners,
        "res.partner",
        dims=PARTNER_DIMS,
        needs=("companies",),
    ),
)


# KPIs ------------------------------------------------------------------
CREATED = "l.create_month"
CLOSED = "l.closed_month"
DECIDED = "l.won_status IN ('won', 'lost') AND l.closed_month IS NOT NULL"
WON = "l.won_status = 'won' AND l.closed_month IS NOT NULL"


def _lead(month, num, den="0", where="TRUE"):
    return Measure("lead", num, den, where, month)


def _customer(num, den="0"):
    return Measure("customer", num, den)


def _cost(categories, num, den="0"):
    return Measure("cost", num, den, SQL("k.category IN %s", tuple(categories)))


def _lifetime_value(run, rows):
    return run.lifetime_value(rows)


KPIS = (
    Kpi("lead_count", SCOPE_MONTH, (_lead(CREATED, "1"),)),
    Kpi("conversion_rate", SCOPE_MONTH, (_lead(CREATED, "l.converted::int", "1"),)),
    Kpi(
        "close_rate",
        SCOPE_MONTH,
        (_lead(CLOSED, "(l.won_status = 'won')::int", "1", DECIDED),),
    ),
    Kpi("won_count", SCOPE_MONTH, (_lead(CLOSED, "1", "0", WON),)),
    Kpi("won_revenue", SCOPE_MONTH, (_lead(CLOSED, "l.revenue", "0", WON),)),
    Kpi(
        "new_revenue",
        SCOPE_MONTH,
        (
            Measure(
                "purchase",
                "w.revenue",
                "0",
                "w.closed_at <= w.first_at + INTERVAL '180 days'",
            ),
        ),
    ),
    Kpi(
        "sales_cycle_days",
        SCOPE_MONTH,
        (
            _lead(
                CLOSED,
                "EXTRACT(EPOCH FROM (l.date_closed - l.create_date)) / 86400.0",
                "1",
                WON,
            ),
        ),
    ),
    Kpi("open_deals", SCOPE_FORWARD, (Measure("open_deal", "1"),)),
    Kpi(
        "activities_per_lead",
        SCOPE_MONTH,
        (_lead(CLOSED, "COALESCE(msg.done, 0)", "1", DECIDED),),
    ),
    Kpi(
        "retention_rate",
        SCOPE_FORWARD,
        (_customer("b.active_start - b.churned", "b.active_start"),),
    ),
    Kpi("churn_rate", SCOPE_FORWARD, (_customer("b.churned", "b.active_start"),)),
    Kpi("new_customers", SCOPE_MONTH, (_customer("b.is_new"),)),
    Kpi("repeat_customers", SCOPE_FORWARD, (_customer("b.repeat", "b.active_end"),)),
    Kpi(
        "clv",
        SCOPE_FORWARD,
        (_customer("b.profit_12m", "b.active_end"),),
        adjust=_lifetime_value,
    ),
    Kpi(
        "profit_per_customer",
        SCOPE_FORWARD,
        (_customer("b.profit_12m", "b.active_end"),),
    ),
    Kpi(
        "purchase_frequency",
        SCOPE_FORWARD,
        (_customer("b.purchases_12m", "b.active_end"),),
    ),
    Kpi(
        "products_per_customer",
        SCOPE_FORWARD,
        (_customer("b.products_12m", "b.product_end"),),
    ),
    Kpi(
        "average_order_value",
        SCOPE_MONTH,
        (Measure("purchase", "w.revenue", "1", "w.purchase"),),
    ),
    Kpi(
        "nps",
        SCOPE_MONTH,
        (
            Measure(
                "feedback",
                "CASE WHEN f.score >= 9 THEN 1 WHEN f.score <= 6 THEN -1 ELSE 0 END",
                "1",
                "f.kind = 'nps'",
            ),
        ),
    ),
    Kpi("ces", SCOPE_MONTH, (Measure("feedback", "f.score", "1", "f.kind = 'ces'"),)),
    Kpi(
        "cac",
        SCOPE_MONTH,
        (_cost(("marketing", "sales"), "k.amount"), _customer("0", "b.is_new")),
    ),
    Kpi(
        "retention_cost",
        SCOPE_FORWARD,
        (_cost(("retention",), "k.amount"), _customer("0", "b.active_start")),
    ),
    Kpi(
        "marketing_roi",
        SCOPE_MONTH,
        (
            _lead(CLOSED, "l.revenue", "0", f"{WON} AND l.campaign_id IS NOT NULL"),
            _cost(("marketing",), "-k.amount", "k.amount"),
        ),
    ),
    Kpi(
        "traffic_to_lead",
        SCOPE_MONTH,
        (_lead(CREATED, "1"), _cost(("visitors",), "0", "k.amount")),
    ),
    Kpi(
        "renewal_rate",
        SCOPE_MONTH,
        (
            _lead(
                CLOSED,
                "(l.won_status = 'won')::int",
                "1",
                f"{DECIDED} AND l.deal_type = 'renewal'",
            ),
        ),
    ),
    Kpi("cross_sell_rate", SCOPE_FORWARD, (_customer("b.upsell", "b.active_end"),)),
    Kpi("referrals", SCOPE_MONTH, (_lead(CREATED, "1", "0", "l.referral"),)),
    Kpi(
        "logins_per_user",
        SCOPE_MONTH,
        (Measure("login", "g.logins", "g.users", month="g.month"),),
    ),
    Kpi(
        "records_created",
        SCOPE_MONTH,
        (_lead(CREATED, "1"), Measure("partner", "1", month="p.month")),
    ),
    Kpi(
        "data_completeness",
        SCOPE_FORWARD,
        (_customer("b.complete_end", "b.active_end"),),
    ),
    *(
        Kpi(
            f"lifecycle_{stage}",
            SCOPE_FORWARD,
            (Measure("lifecycle", "s.partners", "0", SQL("s.stage = %s", stage)),),
        )
        for stage, _label in LIFECYCLE_STAGES
    ),
)


def core_catalogue():
    """A new catalogue of the addon's own sources, KPIs and revenue source."""
    catalogue = Catalogue()
    catalogue.add_revenue_source(DEALS)
    for source in SOURCES:
        catalogue.add_source(source)
    for kpi in KPIS:
        catalogue.add_kpi(kpi)
    return catalogue
