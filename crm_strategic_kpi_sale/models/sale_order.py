from odoo import api, models
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.models.crm_lead import SINGLE_REFRESH_LIMIT

from ..sources import INVOICE, SALE_ORDER

# Fields of sale.order the KPIs read: writing one queues the order's days.
KPI_ORDER_FIELDS = {
    "campaign_id",
    "company_id",
    "currency_rate",
    "date_order",
    "medium_id",
    "opportunity_id",
    "order_line",
    "partner_id",
    "source_id",
    "state",
    "team_id",
    "user_id",
}
# Fields of sale.order.line that change an order's revenue, cost or products
KPI_ORDER_LINE_FIELDS = {
    "display_type",
    "is_downpayment",
    "order_id",
    "price_subtotal",
    "price_unit",
    "discount",
    "product_id",
    "product_uom_qty",
    "purchase_price",
    "tax_ids",
}


class SaleOrder(models.Model):
    _inherit = "sale.order"

    @api.model_create_multi
    def create(self, vals_list):
        orders = super().create(vals_list)
        orders._kpi_mark_dirty()
        return orders

    def write(self, vals):
        relevant = not KPI_ORDER_FIELDS.isdisjoint(vals)
        if relevant:
            self._kpi_mark_dirty()
            partners_before = self.partner_id
        res = super().write(vals)
        if relevant:
            self._kpi_mark_dirty()
            self._kpi_refresh_customers(partners_before)
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        return super().unlink()

    def _kpi_refresh_customers(self, other_partners=None):
        """Keep the lifecycle of the customers of a few edited orders
        current; mass changes are picked up by the nightly run."""
        partners = self.partner_id | (other_partners or self.env["res.partner"])
        if partners and len(partners) <= SINGLE_REFRESH_LIMIT:
            partners._kpi_refresh_customers()

    def _kpi_mark_dirty(self):
        """Queue the days of these orders (and of their deals, whose won
        revenue they are) in the companies that read orders."""
        if not self.ids:
            return
        self.flush_model()
        self.env["res.company"].flush_model(["kpi_revenue_source"])
        self.env["crm.kpi.changed.day"]._mark_query(
            SQL(
                """
                SELECT so.company_id, so.date_order AS day
                  FROM sale_order so
                  JOIN res_company c ON c.id = so.company_id
                 WHERE so.id IN %s AND c.kpi_revenue_source IN %s
                """,
                tuple(self.ids),
                (SALE_ORDER, INVOICE),
            )
        )
        deals = self.sudo().opportunity_id
        if deals:
            deals._kpi_mark_dirty()


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.order_id._kpi_mark_dirty()
        return lines

    def write(self, vals):
        relevant = not KPI_ORDER_LINE_FIELDS.isdisjoint(vals)
        if relevant:
            orders = self.order_id
        res = super().write(vals)
        if relevant:
            (orders | self.order_id)._kpi_mark_dirty()
        return res

    def unlink(self):
        orders = self.order_id
        res = super().unlink()
        orders.exists()._kpi_mark_dirty()
        return res
