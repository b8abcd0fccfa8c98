"""Products, sale orders and invoices of the sample data (``odoo
kpi_populate``).

Every won deal gets its confirmed order on the day it was won, worth its
expected revenue. Most customers then reorder without a deal, at their own
rhythm, until they drift away; one customer in ten buys in Swiss francs
(a second currency with its rate). The small dataset also invoices the
orders of its last year (posted on the order date, one in thirty credited
later); the larger ones write orders and lines in bulk (COPY) and no
invoices.
"""

import math
from datetime import timedelta

from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.populate.common import (
    analyze,
    copy_rows,
    ensure_record,
    reserve_ids,
    weighted,
)

# (key, category, products: (name, list price, cost; 0: no cost known))
CATALOGUE = (
    (
        "hardware",
        "Hardware",
        (
            ("Arbeitsplatz-PC", 1150.0, 820.0),
            ("Notebook Pro 14", 1690.0, 1240.0),
            ("Monitor 27 Zoll", 329.0, 210.0),
            ("Netzwerk-Switch 24 Port", 480.0, 300.0),
        ),
    ),
    (
        "software",
        "Software",
        (
            ("ERP-Lizenz (Jahr)", 960.0, 0.0),
            ("Virenschutz (Jahr)", 49.0, 12.0),
            ("Office-Paket (Jahr)", 129.0, 95.0),
        ),
    ),
    (
        "service",
        "Dienstleistung",
        (
            ("Einrichtung vor Ort (Std.)", 95.0, 48.0),
            ("Schulung (Tag)", 890.0, 0.0),
            ("Fernwartung (Std.)", 85.0, 40.0),
        ),
    ),
    (
        "supplies",
        "Verbrauchsmaterial",
        (
            ("Toner schwarz", 89.0, 52.0),
            ("Druckerpapier (Karton)", 34.0, 21.0),
            ("Kabel-Set", 19.0, 7.0),
        ),
    ),
)
# order lines per generated lead: about 3,000,000 for the 1,000,000 leads
# of the large size; the small one (written through the ORM) stays light
LINES_PER_LEAD = {"small": 0.6, "medium": 3.0, "large": 3.0}
FOREIGN_SHARE = 0.1
FOREIGN_RATE = 0.95  # Swiss francs per company unit
REORDER_SHARE = 0.65
CREDIT_SHARE = 1 / 30


def populate_sales(ctx):
    _ensure_accounting(ctx)
    products = _ensure_products(ctx)
    pricelists = _ensure_pricelists(ctx)
    orders = _plan_orders(ctx, products, pricelists)
    if ctx.method == "orm":
        ids = _write_orders_orm(ctx, orders)
        _invoice_last_year(ctx, ids)
    else:
        _write_orders_sql(ctx, orders)
    ctx.counts["sale.order"] = len(orders)
    ctx.counts["sale.order.line"] = sum(len(order["lines"]) for order in orders)
    return len(orders)


# ---------------------------------------------------------------- setup
def _ensure_accounting(ctx):
    """Odoo's generic chart of accounts for a generated company without one
    (it may set the company's currency: before anything is priced)."""
    env = ctx.env
    for company in ctx.ref["company"].values():
        if not env["account.journal"].search_count(
            [("company_id", "=", company.id), ("type", "=", "sale")], limit=1
        ):
            env["account.chart.template"].try_loading(
                "generic_coa", company=company, install_demo=False
            )


def _ensure_products(ctx):
    """[(product, category key, list price)] of the catalogue, costed in
    every company."""
    env = ctx.env
    products = []
    for key, name, items in CATALOGUE:
        category = ensure_record(
            env, f"product_category_{key}", "product.category", {"name": name}
        )
        for index, (product_name, price, cost) in enumerate(items):
            product = ensure_record(
                env,
                f"product_{key}_{index}",
                "product.product",
                {
                    "name": product_name,
                    "categ_id": category.id,
                    "list_price": price,
                    "type": "consu",
                },
            )
            for company in ctx.ref["company"].values():
                product.with_company(company).standard_price = cost
            products.append((product, key, price))
    return products


def _ensure_pricelists(ctx):
    """A pricelist in the company's currency and one in Swiss francs (with
    their rate) per company: {company id: (pricelist, Swiss pricelist)};
    a Swiss company sells in francs only."""
    env = ctx.env
    currency = env.ref("base.CHF")
    currency.active = True
    pricelists = {}
    for key, company in ctx.ref["company"].items():
        own = ensure_record(
            env,
            f"pricelist_own_{key}",
            "product.pricelist",
            {
                "name": f"Listenpreise {company.currency_id.name}",
                "currency_id": company.currency_id.id,
                "company_id": company.id,
            },
        )
        pricelists[company.id] = (own, own)
        if company.currency_id == currency:
            continue
        env["res.currency.rate"].search(
            [("currency_id", "=", currency.id), ("company_id", "=", company.id)]
        ).unlink()
        env["res.currency.rate"].create(
            {
                "currency_id": currency.id,
                "company_id": company.id,
                "name": ctx.start_month - timedelta(days=400),
                "rate": FOREIGN_RATE,
            }
        )
        swiss = ensure_record(
            env,
            f"pricelist_chf_{key}",
            "product.pricelist",
            {
                "name": "Schweizer Franken",
                "currency_id": currency.id,
                "company_id": company.id,
            },
        )
        pricelists[company.id] = (own, swiss)
    return pricelists


# ---------------------------------------------------------------- plan
def _won_deals(ctx):
    """The won deals of this run's leads (of every lead of its companies when
    the step runs on a dataset generated earlier)."""
    ctx.env.flush_all()
    ctx.cr.execute(
        SQL(
            """
            SELECT l.id, p.commercial_partner_id, l.partner_id, l.company_id,
                   l.date_closed, l.expected_revenue, l.user_id, l.team_id,
                   l.campaign_id, l.source_id, l.medium_id
              FROM crm_lead l
              JOIN res_partner p ON p.id = l.partner_id
             WHERE (l.id = ANY(%s) OR (%s AND l.company_id = ANY(%s)))
               AND l.won_status = 'won' AND l.date_closed IS NOT NULL
             ORDER BY l.date_closed, l.id
            """,
            list(ctx.lead_ids),
            # run alone (--steps companies,sales): the deals in place
            not ctx.lead_ids,
            [company.id for company in ctx.ref["company"].values()],
        )
    )
    return ctx.cr.fetchall()


def _lines(rng, products, amount):
    """Order lines worth about ``amount``: one to five products, the
    largest share on the first."""
    count = min(
        len(products), weighted(rng, ((1, 30), (2, 30), (3, 20), (4, 12), (5, 8)))
    )
    chosen = rng.sample(products, count)
    shares = sorted((rng.random() + 0.2 for _ in chosen), reverse=True)
    total = sum(shares)
    lines = []
    for (product, _key, price), share in zip(chosen, shares, strict=True):
        qty = max(1, round(amount * share / total / price))
        lines.append((product, qty, price))
    return lines


def _plan_orders(ctx, products, pricelists):
    """The orders to write: one per won deal, then the reorders."""
    rng = ctx.rng("sale_orders")
    now = ctx.now
    deals = _won_deals(ctx)
    foreign = {}
    orders = []
    customers = {}
    for (
        lead_id,
        customer,
        partner,
        company_id,
        closed,
        revenue,
        user_id,
        team_id,
        campaign_id,
        source_id,
        medium_id,
    ) in deals:
        if customer not in foreign:
            foreign[customer] = rng.random() < FOREIGN_SHARE
        orders.append(
            {
                "partner_id": partner,
                "customer": customer,
                "company_id": company_id,
                "date_order": closed,
                "user_id": user_id,
                "team_id": team_id,
                "opportunity_id": lead_id,
                "campaign_id": campaign_id,
                "source_id": source_id,
                "medium_id": medium_id,
                "pricelist": pricelists[company_id][foreign[customer]],
                "foreign": foreign[customer]
                and pricelists[company_id][0] != pricelists[company_id][1],
                "lines": _lines(rng, products, max(revenue or 0.0, 50.0)),
            }
        )
        first, last, values, partner_of, team_of = customers.get(
            customer, (closed, closed, [], partner, (user_id, team_id, company_id))
        )
        customers[customer] = (
            min(first, closed),
            max(last, closed),
            [*values, revenue or 0.0],
            partner_of,
            team_of,
        )
    deal_lines = sum(len(order["lines"]) for order in orders)
    wanted = LINES_PER_LEAD.get(ctx.size, 3.0) * ctx.spec["leads"] - deal_lines
    reorderers = {}
    for customer, (first, last, values, partner, team) in customers.items():
        if rng.random() >= REORDER_SHARE:
            continue
        # reorders until the customer drifts away (or today)
        end = min(now, last + timedelta(days=rng.uniform(120, 900)))
        span = (end - first).days
        if span > 20:
            reorderers[customer] = (
                first,
                end,
                sum(values) / len(values),
                partner,
                team,
            )
    total_span = sum((end - first).days for first, end, *_r in reorderers.values())
    # about three lines per reorder
    gap = total_span / max(wanted / 3.0, 1.0) if wanted > 0 else math.inf
    for customer, (first, end, value, partner, team) in reorderers.items():
        user_id, team_id, company_id = team
        mean = max(7.0, gap * rng.uniform(0.5, 1.5))
        moment = first + timedelta(days=rng.expovariate(1 / mean) + 3)
        while moment < end:
            moment = ctx.office_instant(rng, moment)
            if moment >= now:
                break
            orders.append(
                {
                    "partner_id": partner,
                    "customer": customer,
                    "company_id": company_id,
                    "date_order": moment,
                    "user_id": user_id,
                    "team_id": team_id,
                    "opportunity_id": None,
                    "campaign_id": None,
                    "source_id": None,
                    "medium_id": None,
                    "pricelist": pricelists[company_id][foreign[customer]],
                    "foreign": foreign[customer]
                    and pricelists[company_id][0] != pricelists[company_id][1],
                    "lines": _lines(rng, products, value * rng.uniform(0.1, 0.4)),
                }
            )
            moment += timedelta(days=rng.expovariate(1 / mean) + 1)
    orders.sort(key=lambda order: order["date_order"])
    return orders


# ---------------------------------------------------------------- write
def _write_orders_orm(ctx, orders):
    """Create and confirm the orders through the ORM, then date them."""
    env = ctx.env
    Order = env["sale.order"].with_context(tracking_disable=True, mail_notrack=True)
    created = []
    for order in orders:
        vals = {
            key: order[key]
            for key in (
                "partner_id",
                "company_id",
                "user_id",
                "team_id",
                "opportunity_id",
                "campaign_id",
                "source_id",
                "medium_id",
            )
            if order[key]
        }
        vals["pricelist_id"] = order["pricelist"].id
        vals["order_line"] = [
            (
                0,
                0,
                {
                    "product_id": product.id,
                    "product_uom_qty": qty,
                    "price_unit": _price(order, price),
                    "tax_ids": [(6, 0, [])],
                },
            )
            for product, qty, price in order["lines"]
        ]
        record = Order.with_company(order["company_id"]).create(vals)
        created.append((record, order["date_order"]))
    records = env["sale.order"].concat(*(record for record, _day in created))
    records.action_confirm()
    for record, moment in created:
        record.date_order = moment
    env.flush_all()
    return records.ids


def _price(order, price):
    """A unit price in the order's currency."""
    return round(price * FOREIGN_RATE, 2) if order["foreign"] else price


def _write_orders_sql(ctx, orders):
    """COPY the orders and their lines, confirmed, with their amounts."""
    cr = ctx.cr
    env = ctx.env
    companies = {company.id: company for company in ctx.ref["company"].values()}
    order_ids = reserve_ids(cr, "sale_order", len(orders))
    line_count = sum(len(order["lines"]) for order in orders)
    line_ids = iter(reserve_ids(cr, "sale_order_line", line_count))
    uid = env.uid
    order_rows, line_rows = [], []
    for number, (order_id, order) in enumerate(zip(order_ids, orders, strict=True)):
        company = companies[order["company_id"]]
        currency = order["pricelist"].currency_id.id
        rate = FOREIGN_RATE if order["foreign"] else 1.0
        amount = 0.0
        for sequence, (product, qty, price) in enumerate(order["lines"]):
            unit = _price(order, price)
            subtotal = round(unit * qty, 2)
            amount += subtotal
            line_rows.append(
                (
                    next(line_ids),
                    order_id,
                    sequence * 10,
                    product.display_name,
                    product.id,
                    product.uom_id.id,
                    float(qty),
                    unit,
                    subtotal,
                    subtotal,
                    0.0,
                    0.0,
                    currency,
                    company.id,
                    order["partner_id"],
                    order["user_id"],
                    "sale",
                    0.0,
                    False,
                    order["date_order"],
                    order["date_order"],
                    uid,
                    uid,
                )
            )
        amount = round(amount, 2)
        order_rows.append(
            (
                order_id,
                f"S{number + 1:07d}",
                company.id,
                order["partner_id"],
                order["partner_id"],
                order["partner_id"],
                order["date_order"],
                "sale",
                currency,
                rate,
                order["pricelist"].id,
                order["user_id"],
                order["team_id"],
                order["opportunity_id"],
                order["campaign_id"],
                order["source_id"],
                order["medium_id"],
                amount,
                0.0,
                amount,
                "no",
                order["date_order"],
                order["date_order"],
                uid,
                uid,
            )
        )
    copy_rows(
        cr,
        "sale_order",
        (
            "id",
            "name",
            "company_id",
            "partner_id",
            "partner_invoice_id",
            "partner_shipping_id",
            "date_order",
            "state",
            "currency_id",
            "currency_rate",
            "pricelist_id",
            "user_id",
            "team_id",
            "opportunity_id",
            "campaign_id",
            "source_id",
            "medium_id",
            "amount_untaxed",
            "amount_tax",
            "amount_total",
            "invoice_status",
            "create_date",
            "write_date",
            "create_uid",
            "write_uid",
        ),
        order_rows,
    )
    copy_rows(
        cr,
        "sale_order_line",
        (
            "id",
            "order_id",
            "sequence",
            "name",
            "product_id",
            "product_uom_id",
            "product_uom_qty",
            "price_unit",
            "price_subtotal",
            "price_total",
            "price_tax",
            "discount",
            "currency_id",
            "company_id",
            "order_partner_id",
            "salesman_id",
            "state",
            "customer_lead",
            "is_downpayment",
            "create_date",
            "write_date",
            "create_uid",
            "write_uid",
        ),
        line_rows,
    )
    analyze(cr, "sale_order")
    analyze(cr, "sale_order_line")
    env["sale.order"].invalidate_model()
    env["sale.order.line"].invalidate_model()


def _invoice_last_year(ctx, order_ids):
    """Invoice the orders of the last year on their order date and credit
    one invoice in thirty a few weeks later (small dataset)."""
    env = ctx.env
    rng = ctx.rng("sale_invoices")
    since = ctx.now - timedelta(days=365)
    orders = (
        env["sale.order"]
        .browse(order_ids)
        .filtered(lambda order: order.date_order >= since)
    )
    for order in orders:
        company_env = env["sale.order"].with_company(order.company_id)
        invoice = company_env.browse(order.id)._create_invoices()
        invoice.invoice_date = order.date_order.date()
        invoice.action_post()
        if rng.random() < CREDIT_SHARE:
            day = min(order.date_order + timedelta(days=rng.randint(7, 40)), ctx.now)
            reversal = (
                env["account.move.reversal"]
                .with_context(active_model="account.move", active_ids=invoice.ids)
                .create(
                    {
                        "date": day.date(),
                        "reason": "Reklamation",
                        "journal_id": invoice.journal_id.id,
                    }
                )
            )
            credit = env["account.move"].browse(reversal.refund_moves()["res_id"])
            credit.invoice_date = day.date()
            credit.action_post()
    ctx.counts["account.move (invoices)"] = len(orders)
