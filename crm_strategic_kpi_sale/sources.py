"""The revenue sources of Sales and Invoicing (see the engine's
``RevenueSource``): confirmed sale orders and posted customer invoices.

Amounts are untaxed and in the company's currency: an order's at its own
rate (``currency_rate``, taken by Odoo at the order date), an invoice's as
Odoo books it (the signed company-currency amounts). A document of a
contact counts for its commercial partner.

The profit of a purchase is its revenue minus the cost of its lines: a line
whose cost is known (Sales' margin cost on order lines when ``sale_margin``
is installed, else the product's cost) costs quantity x unit cost; a line
without a cost is valued at the company's margin setting.
"""

from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.engine import RevenueSource

SALE_ORDER = "sale_order"
INVOICE = "invoice"


def _since(column, since):
    """``column`` (a month) is ``since`` or later (None: any)."""
    return SQL("%s >= %s", column, since) if since else SQL("TRUE")


def _product_cost(company, product):
    """The cost of the product row ``product`` (an alias of
    ``product_product``) in the company ``company``: products keep it per
    company; 0 counts as unknown."""
    return SQL(
        "NULLIF((%s.standard_price ->> (%s)::text)::numeric, 0)",
        SQL.identifier(product),
        company,
    )


# ------------------------------------------------------------ sale orders
def _orders(run, company_ids):
    """Confirmed orders of ``company_ids`` up to now with their local time,
    month, customer and revenue in the company's currency (computed once per
    run)."""
    closed = run.local_time(SQL("so.date_order"), SQL("so.company_id"))
    return run.materialize(
        "sale_order",
        SQL(
            """
            SELECT so.id, so.company_id, p.commercial_partner_id AS customer_id,
                   so.team_id, so.user_id, so.campaign_id, so.source_id,
                   so.medium_id, so.opportunity_id, %(closed)s AS closed_at,
                   date_trunc('month', %(closed)s)::date AS month,
                   COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric AS rate,
                   so.amount_untaxed::numeric
                       / COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric
                       AS revenue
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
             WHERE so.state = 'sale' AND so.company_id = ANY(%(companies)s)
               AND %(closed)s <= %(now)s
            """,
            closed=closed,
            companies=company_ids,
            now=run.local_now(run.timezone_of(SQL("so.company_id"))),
        ),
    )


def _order_lines(run, company_ids):
    """Product lines of confirmed orders (no sections, notes or down
    payments) with their order's customer and month, untaxed amount and
    cost in the company's currency (cost None when unknown), computed once
    per run."""
    if "purchase_price" in run.env["sale.order.line"]._fields:
        # the cost the line recorded, in the order's currency
        unit_cost = SQL("NULLIF(sol.purchase_price, 0)::numeric / so.rate")
    else:
        unit_cost = _product_cost(SQL("so.company_id"), "lp")
    return run.materialize(
        "sale_order_line",
        SQL(
            """
            SELECT sol.order_id AS doc_id, so.company_id, so.customer_id,
                   so.month, sol.product_id, pt.categ_id,
                   sol.price_subtotal::numeric / so.rate AS revenue,
                   %(unit_cost)s * sol.product_uom_qty::numeric AS cost
              FROM %(orders)s so
              JOIN sale_order_line sol ON sol.order_id = so.id
              JOIN product_product lp ON lp.id = sol.product_id
              JOIN product_template pt ON pt.id = lp.product_tmpl_id
             WHERE sol.display_type IS NULL
               AND NOT COALESCE(sol.is_downpayment, FALSE)
            """,
            unit_cost=unit_cost,
            orders=_orders(run, company_ids),
        ),
    )


def _costs_and_cross_sells(lines, firsts, since):
    """Per purchase (``doc_id``) of the product ``lines`` (rows with doc_id,
    company_id, customer_id, month, categ_id, revenue, cost, and ``bought``:
    false for the lines of a credit note) from ``since`` on: its cost (a
    line without a cost at the company's margin) and whether it bought a
    product category new to its customer while the customer had bought
    before (a cross-sell). ``firsts``: the first purchase month per company
    and customer."""
    return SQL(
        """
        WITH new_categories AS (
            SELECT company_id, customer_id, categ_id, MIN(month) AS first
              FROM %(lines)s b
             WHERE b.bought
             GROUP BY company_id, customer_id, categ_id
        )
        SELECT l.doc_id,
               SUM(COALESCE(l.cost, l.revenue * (1 - co.margin / 100))) AS cost,
               COALESCE(bool_or(l.bought AND nc.first = l.month
                                AND fp.first < l.month), FALSE) AS cross_sell
          FROM %(lines)s l
          JOIN kpi_tmp_company co ON co.id = l.company_id
          LEFT JOIN new_categories nc
            ON nc.company_id = l.company_id AND nc.customer_id = l.customer_id
           AND nc.categ_id = l.categ_id
          LEFT JOIN (%(firsts)s) fp
            ON fp.company_id = l.company_id AND fp.customer_id = l.customer_id
         WHERE %(since)s
         GROUP BY l.doc_id
        """,
        lines=lines,
        firsts=firsts,
        since=_since(SQL("l.month"), since),
    )


def order_purchases(run, company_ids, since):
    """Confirmed sale orders as purchases (see ``RevenueSource``)."""
    orders = _orders(run, company_ids)
    lines = _order_lines(run, company_ids)
    return SQL(
        """
        SELECT o.id, 'sale.order' AS res_model, o.company_id, o.customer_id,
               o.team_id, o.user_id, o.campaign_id, o.source_id, o.medium_id,
               o.closed_at, o.revenue, o.revenue - COALESCE(c.cost, 0) AS profit,
               CASE WHEN c.cross_sell THEN 'cross_sell' ELSE 'repeat' END
                   AS deal_type,
               TRUE AS purchase
          FROM %(orders)s o
          LEFT JOIN (%(costs)s) c ON c.doc_id = o.id
         WHERE %(since)s
        """,
        orders=orders,
        costs=_costs_and_cross_sells(
            SQL("(SELECT *, TRUE AS bought FROM %s)", lines),
            SQL(
                "SELECT company_id, customer_id, MIN(month) AS first "
                "FROM %s GROUP BY company_id, customer_id",
                orders,
            ),
            since,
        ),
        since=_since(SQL("o.month"), since),
    )


def _products(lines, since, bought=None):
    """The distinct products of the ``lines`` (a table) per customer and
    month from ``since`` on, of the lines for which ``bought`` holds."""
    return SQL(
        """
        SELECT DISTINCT l.company_id, l.customer_id, l.month, l.product_id
          FROM %s l
         WHERE %s AND %s
        """,
        lines,
        bought or SQL("TRUE"),
        _since(SQL("l.month"), since),
    )


def order_products(run, company_ids, since):
    """The products of confirmed orders per customer and month."""
    return _products(_order_lines(run, company_ids), since)


def order_deal_revenue(run, company_ids):
    """A won deal's revenue: the untaxed amount of its confirmed orders in
    the company's currency, its expected revenue when it has none."""
    return (
        SQL(
            """
            LEFT JOIN (
                SELECT opportunity_id, SUM(revenue) AS amount
                  FROM %s
                 WHERE opportunity_id IS NOT NULL
                 GROUP BY opportunity_id) kpi_so ON kpi_so.opportunity_id = l.id
            """,
            _orders(run, company_ids),
        ),
        SQL("COALESCE(kpi_so.amount, l.expected_revenue, 0)::numeric"),
    )


def order_customer_days(env, company_ids, scope):
    """Confirmed orders of customers by UTC day."""
    return SQL(
        """
        SELECT p.commercial_partner_id AS cp, so.company_id,
               so.date_order::date AS day,
               so.amount_untaxed::numeric
                   / COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric AS revenue,
               so.id, so.campaign_id, so.source_id, so.medium_id
          FROM sale_order so
          JOIN res_partner p ON p.id = so.partner_id
         WHERE so.state = 'sale' AND so.company_id = ANY(%s) AND %s
        """,
        company_ids,
        scope(SQL("p.commercial_partner_id")),
    )


# ------------------------------------------------------------ invoices
def _invoices(run, company_ids):
    """Posted customer invoices and credit notes of ``company_ids`` up to
    today, dated by their invoice date (computed once per run)."""
    closed = SQL("am.invoice_date::timestamp")
    return run.materialize(
        "account_move",
        SQL(
            """
            SELECT am.id, am.company_id, am.commercial_partner_id AS customer_id,
                   am.team_id, am.invoice_user_id AS user_id, am.campaign_id,
                   am.source_id, am.medium_id, am.move_type,
                   %(closed)s AS closed_at,
                   date_trunc('month', %(closed)s)::date AS month,
                   am.amount_untaxed_signed::numeric AS revenue
              FROM account_move am
             WHERE am.state = 'posted'
               AND am.move_type IN ('out_invoice', 'out_refund')
               AND am.company_id = ANY(%(companies)s)
               AND am.invoice_date IS NOT NULL AND %(closed)s <= %(now)s
            """,
            closed=closed,
            companies=company_ids,
            now=run.local_now(run.timezone_of(SQL("am.company_id"))),
        ),
    )


def _invoice_lines(run, company_ids):
    """Product lines of posted invoices and credit notes: revenue and cost
    signed (a credit note's are negative), in the company's currency (cost
    None when unknown), computed once per run."""
    return run.materialize(
        "account_move_line",
        SQL(
            """
            SELECT aml.move_id AS doc_id, am.company_id, am.customer_id,
                   am.month, am.move_type, aml.product_id, pt.categ_id,
                   -aml.balance::numeric AS revenue,
                   %(unit_cost)s * aml.quantity::numeric
                       * CASE WHEN am.move_type = 'out_refund' THEN -1 ELSE 1 END
                       AS cost
              FROM %(moves)s am
              JOIN account_move_line aml ON aml.move_id = am.id
              JOIN product_product lp ON lp.id = aml.product_id
              JOIN product_template pt ON pt.id = lp.product_tmpl_id
             WHERE aml.display_type = 'product'
            """,
            unit_cost=_product_cost(SQL("am.company_id"), "lp"),
            moves=_invoices(run, company_ids),
        ),
    )


def invoice_purchases(run, company_ids, since):
    """Posted customer invoices as purchases, credit notes as reductions
    (see ``RevenueSource``)."""
    moves = _invoices(run, company_ids)
    lines = _invoice_lines(run, company_ids)
    return SQL(
        """
        SELECT m.id, 'account.move' AS res_model, m.company_id, m.customer_id,
               m.team_id, m.user_id, m.campaign_id, m.source_id, m.medium_id,
               m.closed_at, m.revenue, m.revenue - COALESCE(c.cost, 0) AS profit,
               CASE WHEN c.cross_sell THEN 'cross_sell' ELSE 'repeat' END
                   AS deal_type,
               m.move_type = 'out_invoice' AS purchase
          FROM %(moves)s m
          LEFT JOIN (%(costs)s) c ON c.doc_id = m.id
         WHERE %(since)s
        """,
        moves=moves,
        # a credit note buys nothing: its lines count for the cost only
        costs=_costs_and_cross_sells(
            SQL(
                "(SELECT doc_id, company_id, customer_id, month, categ_id, "
                "revenue, cost, move_type = 'out_invoice' AS bought FROM %s)",
                lines,
            ),
            SQL(
                "SELECT company_id, customer_id, MIN(month) AS first FROM %s "
                "WHERE move_type = 'out_invoice' GROUP BY company_id, customer_id",
                moves,
            ),
            since,
        ),
        since=_since(SQL("m.month"), since),
    )


def invoice_products(run, company_ids, since):
    """The products of posted customer invoices (not of credit notes) per
    customer and month."""
    return _products(
        _invoice_lines(run, company_ids), since, SQL("l.move_type = 'out_invoice'")
    )


def invoice_customer_days(env, company_ids, scope):
    """Posted customer invoices (no credit notes) of customers by day."""
    return SQL(
        """
        SELECT am.commercial_partner_id AS cp, am.company_id,
               am.invoice_date AS day,
               am.amount_untaxed_signed::numeric AS revenue,
               am.id, am.campaign_id, am.source_id, am.medium_id
          FROM account_move am
         WHERE am.state = 'posted' AND am.move_type = 'out_invoice'
           AND am.invoice_date IS NOT NULL AND am.company_id = ANY(%s) AND %s
        """,
        company_ids,
        scope(SQL("am.commercial_partner_id")),
    )


SALE_ORDERS = RevenueSource(
    SALE_ORDER,
    purchases=order_purchases,
    customer_days=order_customer_days,
    deal_revenue=order_deal_revenue,
    products=order_products,
    needs=("companies",),
)
INVOICES = RevenueSource(
    INVOICE,
    purchases=invoice_purchases,
    customer_days=invoice_customer_days,
    deal_revenue=order_deal_revenue,
    products=invoice_products,
    needs=("companies",),
)
