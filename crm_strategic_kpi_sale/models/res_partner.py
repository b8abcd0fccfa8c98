from odoo import api, fields, models
from odoo.tools import SQL

# the years of order lines the insight reads
INSIGHT_YEARS = 2
PRICE_BANDS = [
    ("low", "Lower third"),
    ("medium", "Middle third"),
    ("high", "Upper third"),
]


class ResPartner(models.Model):
    _inherit = "res.partner"

    kpi_favourite_categ_id = fields.Many2one(
        comodel_name="product.category",
        string="Favourite Product Category",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The product category with the highest untaxed revenue on the "
        "customer's confirmed orders of the last two years.",
    )
    kpi_price_band = fields.Selection(
        selection=PRICE_BANDS,
        string="Typical Price Range",
        readonly=True,
        copy=False,
        help="Where the median unit price (in the company's currency) of the "
        "customer's order lines of the last two years stands among all "
        "customers: lower, middle or upper third. Updated by the nightly run.",
    )
    kpi_purchase_campaign_id = fields.Many2one(
        comodel_name="utm.campaign",
        string="Purchase Campaign",
        readonly=True,
        copy=False,
        help="The campaign of most of the customer's orders and won deals of "
        "the last two years.",
    )
    kpi_purchase_source_id = fields.Many2one(
        comodel_name="utm.source",
        string="Purchase Source",
        readonly=True,
        copy=False,
        help="The source of most of the customer's orders and won deals of the "
        "last two years.",
    )
    kpi_purchase_medium_id = fields.Many2one(
        comodel_name="utm.medium",
        string="Purchase Medium",
        readonly=True,
        copy=False,
        help="The medium of most of the customer's orders and won deals of the "
        "last two years.",
    )

    def _kpi_refresh_customers(self, today=None):
        res = super()._kpi_refresh_customers(today=today)
        partner_ids = self.commercial_partner_id.ids if self else None
        self._kpi_refresh_purchase_insight(today or fields.Date.today(), partner_ids)
        return res

    @api.model
    def _kpi_refresh_purchase_insight(self, today, partner_ids=None):
        """Favourite category, purchase channel and (for every customer at
        once: the thresholds are a statistic of all) the price band of the
        commercial partners ``partner_ids`` (None: all), from their confirmed
        orders (and won deals) of the last two years in their company,
        set-based."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute("DROP TABLE IF EXISTS kpi_tmp_insight_line")
        # a customer's figures are those of its company (the main one for a
        # contact shared between companies), like its lifecycle
        main = self.env.ref("base.main_company").id
        since = today.replace(year=today.year - INSIGHT_YEARS)
        scope = (
            SQL("TRUE")
            if partner_ids is None
            else SQL("p.commercial_partner_id = ANY(%s)", partner_ids)
        )
        cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_insight_line AS
                SELECT p.commercial_partner_id AS cp, pt.categ_id,
                       sol.price_subtotal::numeric
                           / COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric
                           AS revenue,
                       sol.price_subtotal::numeric
                           / COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric
                           / NULLIF(sol.product_uom_qty, 0)::numeric AS unit_price
                  FROM sale_order so
                  JOIN res_partner p ON p.id = so.partner_id
                  JOIN res_partner cp ON cp.id = p.commercial_partner_id
                  JOIN sale_order_line sol ON sol.order_id = so.id
                  JOIN product_product pp ON pp.id = sol.product_id
                  JOIN product_template pt ON pt.id = pp.product_tmpl_id
                 WHERE so.state = 'sale' AND so.date_order >= %(since)s
                   AND so.company_id = COALESCE(cp.company_id, %(main)s)
                   AND sol.display_type IS NULL
                   AND NOT COALESCE(sol.is_downpayment, FALSE) AND %(scope)s
                """,
                since=since,
                scope=scope,
                main=main,
            )
        )
        target = (
            SQL("TRUE")
            if partner_ids is None
            else SQL("c.commercial_partner_id = ANY(%s)", partner_ids)
        )
        cr.execute(
            SQL(
                """
                WITH favourite AS (
                    SELECT DISTINCT ON (cp) cp, categ_id
                      FROM (SELECT cp, categ_id, SUM(revenue) AS revenue
                              FROM kpi_tmp_insight_line
                             GROUP BY cp, categ_id) r
                     ORDER BY cp, revenue DESC, categ_id
                ), channels AS (
                    SELECT p.commercial_partner_id AS cp, so.campaign_id,
                           so.source_id, so.medium_id
                      FROM sale_order so
                      JOIN res_partner p ON p.id = so.partner_id
                      JOIN res_partner cp ON cp.id = p.commercial_partner_id
                     WHERE so.state = 'sale' AND so.date_order >= %(since)s
                       AND so.company_id = COALESCE(cp.company_id, %(main)s)
                       AND %(scope)s
                     UNION ALL
                    SELECT p.commercial_partner_id, l.campaign_id, l.source_id,
                           l.medium_id
                      FROM crm_lead l
                      JOIN res_partner p ON p.id = l.partner_id
                      JOIN res_partner cp ON cp.id = p.commercial_partner_id
                     WHERE l.won_status = 'won' AND l.date_closed >= %(since)s
                       AND l.company_id = COALESCE(cp.company_id, %(main)s)
                       AND %(scope)s
                ), campaign AS (%(campaign)s), source AS (%(source)s),
                medium AS (%(medium)s)
                UPDATE res_partner c
                   SET kpi_favourite_categ_id = f.categ_id,
                       kpi_purchase_campaign_id = ca.campaign_id,
                       kpi_purchase_source_id = so.source_id,
                       kpi_purchase_medium_id = me.medium_id
                  FROM res_partner c2
                  LEFT JOIN favourite f ON f.cp = c2.id
                  LEFT JOIN campaign ca ON ca.cp = c2.id
                  LEFT JOIN source so ON so.cp = c2.id
                  LEFT JOIN medium me ON me.cp = c2.id
                 WHERE c2.id = c.commercial_partner_id AND %(target)s
                   AND (c.kpi_favourite_categ_id, c.kpi_purchase_campaign_id,
                        c.kpi_purchase_source_id, c.kpi_purchase_medium_id)
                       IS DISTINCT FROM
                       (f.categ_id, ca.campaign_id, so.source_id, me.medium_id)
                """,
                since=since,
                scope=scope,
                main=main,
                target=target,
                **{
                    name: SQL(
                        """SELECT DISTINCT ON (cp) cp, %(column)s
                             FROM channels WHERE %(column)s IS NOT NULL
                            GROUP BY cp, %(column)s
                            ORDER BY cp, COUNT(*) DESC, %(column)s""",
                        column=SQL.identifier(f"{name}_id"),
                    )
                    for name in ("campaign", "source", "medium")
                },
            )
        )
        if partner_ids is None:
            self._kpi_refresh_price_bands()
        cr.execute("DROP TABLE kpi_tmp_insight_line")
        self.invalidate_model(
            [
                "kpi_favourite_categ_id",
                "kpi_purchase_campaign_id",
                "kpi_purchase_source_id",
                "kpi_purchase_medium_id",
                "kpi_price_band",
            ]
        )

    def _kpi_refresh_price_bands(self):
        """The price band of every customer: its median unit price against
        the terciles of all customers' medians."""
        self.env.cr.execute(
            """
            WITH medians AS (
                SELECT cp, percentile_cont(0.5) WITHIN GROUP (ORDER BY unit_price)
                           AS median
                  FROM kpi_tmp_insight_line
                 WHERE unit_price IS NOT NULL
                 GROUP BY cp
            ), thresholds AS (
                SELECT percentile_cont(1.0 / 3) WITHIN GROUP (ORDER BY median) AS t1,
                       percentile_cont(2.0 / 3) WITHIN GROUP (ORDER BY median) AS t2
                  FROM medians
            ), bands AS (
                SELECT m.cp, CASE WHEN m.median <= t.t1 THEN 'low'
                                  WHEN m.median <= t.t2 THEN 'medium'
                                  ELSE 'high' END AS band
                  FROM medians m, thresholds t
            )
            UPDATE res_partner c
               SET kpi_price_band = b.band
              FROM res_partner c2
              LEFT JOIN bands b ON b.cp = c2.id
             WHERE c2.id = c.commercial_partner_id
               AND c.kpi_price_band IS DISTINCT FROM b.band
            """
        )
