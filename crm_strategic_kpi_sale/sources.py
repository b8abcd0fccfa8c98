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


def _product_cost(company, line_product):
    """The cost of the product ``line_product`` in the company ``company``
    (both expressions): products keep it per company."""
    return SQL(
        """(SELECT NULLIF((pp.standard_price ->> (%s)::text)::numeric, 0)
              FROM product_product pp WHERE pp.id = %s)""",
        company,
        line_product,
    )


# ------------------------------------------------------------ sale orders
def _order_lines_cost(run):
    """The cost of an order line ``sol`` in the order's currency per unit of
    the line, None when unknown."""
    if "purchase_price" in run.env["sale.order.line"]._fields:
        return SQL("NULLIF(sol.purchase_price, 0)::numeric")
    # the product's cost is in the company's currency: in the order's
    return SQL(
        "%s * NULLIF(so.currency_rate, 0)::numeric",
        _product_cost(SQL("so.company_id"), SQL("sol.product_id")),
    )


def _orders(run, company_ids):
    """Confirmed orders of ``company_ids`` up to now, with their local time,
    customer and month."""
    closed = run.local_time(SQL("so.date_order"), SQL("so.company_id"))
    return SQL(
        """
        SELECT so.*, p.commercial_partner_id AS customer_id,
               %(closed)s AS closed_at,
               date_trunc('month', %(closed)s)::date AS month,
               COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric AS rate
          FROM sale_order so
          JOIN res_partner p ON p.id = so.partner_id
         WHERE so.state = 'sale' AND so.company_id = ANY(%(companies)s)
           AND %(closed)s <= %(now)s
        """,
        closed=closed,
        companies=company_ids,
        now=run.local_now(run.timezone_of(SQL("so.company_id"))),
    )


def _order_lines(run, company_ids):
    """Product lines of confirmed orders (no sections, notes or down
    payments), with their order's customer, month and rate."""
    return SQL(
        """
        SELECT sol.id, sol.product_id, sol.product_uom_qty, sol.price_subtotal,
               pt.categ_id, %(cost)s AS unit_cost,
               so.id AS order_id, so.company_id, so.customer_id, so.month, so.rate
          FROM (%(orders)s) so
          JOIN sale_order_line sol ON sol.order_id = so.id
          JOIN product_product lp ON lp.id = sol.product_id
          JOIN product_template pt ON pt.id = lp.product_tmpl_id
         WHERE sol.display_type IS NULL AND NOT COALESCE(sol.is_downpayment, FALSE)
        """,
        cost=_order_lines_cost(run),
        orders=_orders(run, company_ids),
    )


def _new_categories(lines, since):
    """Per purchase (``doc_id``) whether it bought a product category new to
    its customer while the customer had bought before (a cross-sell): the
    first month of each category per customer against the customer's first
    month, over all its ``lines`` (rows with company_id, customer_id,
    doc_id, month, categ_id)."""
    return SQL(
        """
        SELECT DISTINCT ln.doc_id
          FROM (%(lines)s) ln
          JOIN (SELECT company_id, customer_id, categ_id, MIN(month) AS first
                  FROM (%(lines)s) a
                 GROUP BY company_id, customer_id, categ_id) fc
            ON fc.company_id = ln.company_id AND fc.customer_id = ln.customer_id
           AND fc.categ_id = ln.categ_id AND fc.first = ln.month
          JOIN (SELECT company_id, customer_id, MIN(month) AS first
                  FROM (%(lines)s) a
                 GROUP BY company_id, customer_id) fp
            ON fp.company_id = ln.company_id AND fp.customer_id = ln.customer_id
         WHERE fp.first < ln.month AND %(since)s
        """,
        lines=lines,
        since=_since(SQL("ln.month"), since),
    )


def order_purchases(run, company_ids, since):
    """Confirmed sale orders as purchases (see ``RevenueSource``)."""
    lines = SQL(
        "SELECT company_id, customer_id, order_id AS doc_id, month, categ_id "
        "FROM (%s) l",
        _order_lines(run, company_ids),
    )
    return SQL(
        """
        WITH orders AS MATERIALIZED (%(orders)s),
        costs AS (
            SELECT l.order_id,
                   SUM(CASE WHEN l.unit_cost IS NULL
                            THEN l.price_subtotal * (1 - co.margin / 100)
                            ELSE l.unit_cost * l.product_uom_qty END / l.rate)
                       AS cost
              FROM (%(lines)s) l
              JOIN kpi_tmp_company co ON co.id = l.company_id
             WHERE %(lines_since)s
             GROUP BY l.order_id
        ), cross_sold AS (%(cross_sold)s)
        SELECT o.id, 'sale.order' AS res_model, o.company_id, o.customer_id,
               o.team_id, o.user_id, o.campaign_id, o.source_id, o.medium_id,
               o.closed_at, o.amount_untaxed::numeric / o.rate AS revenue,
               o.amount_untaxed::numeric / o.rate - COALESCE(c.cost, 0) AS profit,
               CASE WHEN x.doc_id IS NOT NULL THEN 'cross_sell' ELSE 'repeat' END
                   AS deal_type,
               TRUE AS purchase
          FROM orders o
          LEFT JOIN costs c ON c.order_id = o.id
          LEFT JOIN cross_sold x ON x.doc_id = o.id
         WHERE %(since)s
        """,
        orders=_orders(run, company_ids),
        lines=_order_lines(run, company_ids),
        lines_since=_since(SQL("l.month"), since),
        cross_sold=_new_categories(lines, since),
        since=_since(SQL("o.month"), since),
    )


def order_products(run, company_ids, since):
    """The products of confirmed orders per customer and month."""
    return SQL(
        """
        SELECT DISTINCT l.company_id, l.customer_id, l.month, l.product_id
          FROM (%s) l
         WHERE %s
        """,
        _order_lines(run, company_ids),
        _since(SQL("l.month"), since),
    )


def order_deal_revenue(run, company_ids):
    """A won deal's revenue: the untaxed amount of its confirmed orders in
    the company's currency, its expected revenue when it has none."""
    return (
        SQL(
            """
            LEFT JOIN (
                SELECT so.opportunity_id,
                       SUM(so.amount_untaxed::numeric
                           / COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric)
                           AS amount
                  FROM sale_order so
                 WHERE so.state = 'sale' AND so.opportunity_id IS NOT NULL
                   AND so.company_id = ANY(%s)
                 GROUP BY so.opportunity_id) kpi_so ON kpi_so.opportunity_id = l.id
            """,
            company_ids,
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
    today, dated by their invoice date."""
    closed = SQL("am.invoice_date::timestamp")
    return SQL(
        """
        SELECT am.*, %(closed)s AS closed_at,
               date_trunc('month', %(closed)s)::date AS month
          FROM account_move am
         WHERE am.state = 'posted' AND am.move_type IN ('out_invoice', 'out_refund')
           AND am.company_id = ANY(%(companies)s) AND am.invoice_date IS NOT NULL
           AND %(closed)s <= %(now)s
        """,
        closed=closed,
        companies=company_ids,
        now=run.local_now(run.timezone_of(SQL("am.company_id"))),
    )


def _invoice_lines(run, company_ids):
    """Product lines of posted invoices and credit notes: revenue signed
    (a credit note's is negative), in the company's currency."""
    return SQL(
        """
        SELECT aml.id, aml.product_id, am.company_id,
               am.commercial_partner_id AS customer_id, am.id AS move_id,
               am.month, am.move_type, pt.categ_id, -aml.balance AS revenue,
               CASE WHEN am.move_type = 'out_refund' THEN -1 ELSE 1 END
                   * aml.quantity AS quantity,
               %(cost)s AS unit_cost
          FROM (%(moves)s) am
          JOIN account_move_line aml ON aml.move_id = am.id
          JOIN product_product lp ON lp.id = aml.product_id
          JOIN product_template pt ON pt.id = lp.product_tmpl_id
         WHERE aml.display_type = 'product'
        """,
        cost=_product_cost(SQL("am.company_id"), SQL("aml.product_id")),
        moves=_invoices(run, company_ids),
    )


def invoice_purchases(run, company_ids, since):
    """Posted customer invoices as purchases, credit notes as reductions
    (see ``RevenueSource``)."""
    lines = SQL(
        "SELECT company_id, customer_id, move_id AS doc_id, month, categ_id "
        "FROM (%s) l WHERE l.move_type = 'out_invoice'",
        _invoice_lines(run, company_ids),
    )
    return SQL(
        """
        WITH costs AS (
            SELECT l.move_id,
                   SUM(CASE WHEN l.unit_cost IS NULL
                            THEN l.revenue * (1 - co.margin / 100)
                            ELSE l.unit_cost * l.quantity END) AS cost
              FROM (%(lines)s) l
              JOIN kpi_tmp_company co ON co.id = l.company_id
             WHERE %(lines_since)s
             GROUP BY l.move_id
        ), cross_sold AS (%(cross_sold)s)
        SELECT m.id, 'account.move' AS res_model, m.company_id,
               m.commercial_partner_id AS customer_id, m.team_id,
               m.invoice_user_id AS user_id, m.campaign_id, m.source_id,
               m.medium_id, m.closed_at, m.amount_untaxed_signed::numeric AS revenue,
               m.amount_untaxed_signed::numeric - COALESCE(c.cost, 0) AS profit,
               CASE WHEN x.doc_id IS NOT NULL THEN 'cross_sell' ELSE 'repeat' END
                   AS deal_type,
               m.move_type = 'out_invoice' AS purchase
          FROM (%(moves)s) m
          LEFT JOIN costs c ON c.move_id = m.id
          LEFT JOIN cross_sold x ON x.doc_id = m.id
         WHERE %(since)s
        """,
        lines=_invoice_lines(run, company_ids),
        lines_since=_since(SQL("l.month"), since),
        cross_sold=_new_categories(lines, since),
        moves=_invoices(run, company_ids),
        since=_since(SQL("m.month"), since),
    )


def invoice_products(run, company_ids, since):
    """The products of posted customer invoices per customer and month."""
    return SQL(
        """
        SELECT DISTINCT l.company_id, l.customer_id, l.month, l.product_id
          FROM (%s) l
         WHERE l.move_type = 'out_invoice' AND %s
        """,
        _invoice_lines(run, company_ids),
        _since(SQL("l.month"), since),
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
