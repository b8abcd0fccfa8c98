from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.populate import populate
from odoo.addons.crm_strategic_kpi.tests.test_populate import CORE_STEPS, NOW

TINY = {"customers": 40, "leads": 500, "teams": (1, 1, 1, 1), "pls": False}
STEPS = (*CORE_STEPS[:-1], "sales", "finalize")


@tagged("post_install", "-at_install")
class TestPopulateOrders(TransactionCase):
    """The generator sells: an order per won deal worth its expected
    revenue, reorders without a deal, a second currency; the ORM path also
    invoices and credits. The bulk path stores the same orders."""

    def _orders(self, ctx):
        self.env.flush_all()
        leads = {lead_id: pos for pos, lead_id in enumerate(ctx.lead_ids)}
        self.env.cr.execute(
            SQL(
                """
                SELECT so.id, so.company_id, so.partner_id, so.date_order, so.state,
                       so.currency_id, so.pricelist_id,
                       ROUND(so.currency_rate::numeric, 6), so.amount_untaxed::float8,
                       so.user_id, so.team_id, so.opportunity_id,
                       so.campaign_id, so.source_id, so.medium_id,
                       array_agg((sol.product_id, sol.product_uom_qty::float8,
                                  sol.price_unit::float8,
                                  sol.price_subtotal::float8)::text
                                 ORDER BY sol.sequence, sol.id)
                  FROM sale_order so
                  JOIN sale_order_line sol ON sol.order_id = so.id
                 WHERE so.id > %s
                 GROUP BY so.id ORDER BY so.date_order, so.id
                """,
                self.first_order,
            )
        )
        partners = {pid: pos for pos, pid in enumerate(ctx.partner_ids)}
        return [
            (
                row[1],
                partners.get(row[2], row[2]),
                *row[3:11],
                leads.get(row[11]),
                *row[12:],
            )
            for row in self.env.cr.fetchall()
        ]

    def setUp(self):
        super().setUp()
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM sale_order")
        self.first_order = self.env.cr.fetchone()[0]

    def test_generated_sales(self):
        ctx = populate(self.env, method="orm", now=NOW, steps=STEPS, **TINY)
        orders = self._orders(ctx)
        self.assertEqual(len(orders), ctx.counts["sale.order"])
        won = (
            self.env["crm.lead"]
            .browse(ctx.lead_ids)
            .filtered(lambda lead: lead.won_status == "won")
        )
        with_deal = [row for row in orders if row[10] is not None]
        self.assertEqual(len(with_deal), len(won))
        self.assertGreater(len(orders) - len(with_deal), len(won) / 2, "reorders")
        # orders in a currency other than their company's (Swiss francs)
        currency = {
            company.id: company.currency_id.id
            for company in self.env["res.company"].search([])
        }
        foreign = [row for row in orders if row[4] != currency[row[0]]]
        self.assertTrue(foreign)
        chf = self.env.ref("base.CHF")
        self.assertEqual({row[4] for row in foreign}, {chf.id})
        self.assertTrue(all(row[3] == "sale" for row in orders))
        Move = self.env["account.move"]
        self.assertTrue(Move.search_count([("move_type", "=", "out_invoice")]))
        self.assertTrue(Move.search_count([("move_type", "=", "out_refund")]))

    def test_bulk_path_stores_the_same_orders(self):
        orm = populate(self.env, method="orm", now=NOW, steps=STEPS, **TINY)
        orm_orders = self._orders(orm)
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM sale_order")
        self.first_order = self.env.cr.fetchone()[0]
        bulk = populate(
            self.env, method="sql", now=NOW, steps=STEPS, force=True, **TINY
        )
        bulk_orders = self._orders(bulk)
        self.assertEqual(len(orm_orders), len(bulk_orders))
        for position, (orm_row, bulk_row) in enumerate(
            zip(orm_orders, bulk_orders, strict=True)
        ):
            self.assertEqual(orm_row, bulk_row, f"order {position}")
