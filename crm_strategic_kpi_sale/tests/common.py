from datetime import date, datetime

from odoo.tools import SQL

from odoo.addons.base.tests.common import BaseCommon


class SaleKpiCommon(BaseCommon):
    """Purchases booked in Sales and Invoicing, January to April 2026.

    Main company: Europe/Berlin, churn after 60 days, CLV margin 50 %.
    Times are UTC noon (local days equal UTC days). The foreign currency F
    is worth half a company unit all year (rate 2: 1 company unit = 2 F).

    Products: P1 (category Hardware, cost 60), P2 (Hardware, no cost: valued
    at the 50 % margin), P3 (Service, cost 20).

    Customers: X (a company with the contacts X1 and X2), Y, Z. Every
    figure a test expects is worked out by hand in that test.
    """

    JAN, FEB, MAR, APR = (date(2026, m, 1) for m in range(1, 5))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.ref("base.main_company")
        cls.company.write(
            {
                "kpi_churn_days": 60,
                "kpi_clv_margin": 50,
                "kpi_new_customer_days": 20,
                "kpi_at_risk_days": 40,
            }
        )
        cls.company.partner_id.tz = "Europe/Berlin"
        currency = cls.env.ref("base.CHF")
        if currency == cls.company.currency_id:
            currency = cls.env.ref("base.JPY")
        currency.active = True
        cls.foreign = currency
        cls.env["res.currency.rate"].search(
            [("currency_id", "=", currency.id)]
        ).unlink()
        cls.env["res.currency.rate"].create(
            {
                "currency_id": currency.id,
                "name": date(2025, 1, 1),
                "rate": 2.0,
                "company_id": cls.company.id,
            }
        )
        cls.foreign_pricelist = cls.env["product.pricelist"].create(
            {"name": "Foreign", "currency_id": currency.id}
        )
        Category = cls.env["product.category"]
        cls.hardware = Category.create({"name": "Hardware (test)"})
        cls.service = Category.create({"name": "Service (test)"})
        Product = cls.env["product.product"]
        cls.p1 = Product.create(
            {"name": "P1", "categ_id": cls.hardware.id, "standard_price": 60}
        )
        cls.p2 = Product.create(
            {"name": "P2", "categ_id": cls.hardware.id, "standard_price": 0}
        )
        cls.p3 = Product.create(
            {"name": "P3", "categ_id": cls.service.id, "standard_price": 20}
        )
        Partner = cls.env["res.partner"]
        cls.cust_x = Partner.create({"name": "X GmbH", "is_company": True})
        cls.x1, cls.x2 = Partner.create(
            [
                {"name": "Xaver", "parent_id": cls.cust_x.id},
                {"name": "Xenia", "parent_id": cls.cust_x.id},
            ]
        )
        cls.cust_y = Partner.create({"name": "Y AG", "is_company": True})
        cls.cust_z = Partner.create({"name": "Z KG", "is_company": True})

    @classmethod
    def order(cls, partner, day, lines, confirm=True, **extra):
        """A sale order of ``partner`` dated ``day`` (noon UTC) with
        ``lines`` [(product, quantity, unit price)], without taxes."""
        order = cls.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "product_uom_qty": qty,
                            "price_unit": price,
                            "tax_ids": [(6, 0, [])],
                        },
                    )
                    for product, qty, price in lines
                ],
                **extra,
            }
        )
        if confirm:
            order.action_confirm()
        order.date_order = datetime.combine(day, datetime.min.time()).replace(hour=12)
        return order

    @classmethod
    def invoice(cls, partner, day, lines, move_type="out_invoice", post=True, **extra):
        """A customer invoice (or credit note) of ``partner`` dated ``day``
        with ``lines`` [(product, quantity, unit price)], without taxes."""
        move = cls.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": partner.id,
                "invoice_date": day,
                "invoice_line_ids": [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "quantity": qty,
                            "price_unit": price,
                            "tax_ids": [(6, 0, [])],
                        },
                    )
                    for product, qty, price in lines
                ],
                **extra,
            }
        )
        if post:
            move.action_post()
        return move

    def recompute(self):
        return self.env["crm.kpi.run"].recompute(date_from=self.JAN, date_to=self.APR)

    def month_value(self, code, month):
        """(numerator, denominator) of a KPI in a month of the company."""
        groups = self.env["crm.kpi.value"]._read_group(
            [
                ("kpi_code", "=", code),
                ("date", "=", month),
                ("company_id", "=", self.company.id),
            ],
            [],
            ["numerator:sum", "denominator:sum"],
        )
        num, den = groups[0] if groups else (0.0, 0.0)
        return num or 0.0, den or 0.0

    def assertMonths(self, code, expected):
        """``expected``: {month: (numerator, denominator)} for January to
        April; a month missing from it has no figures."""
        for month in (self.JAN, self.FEB, self.MAR, self.APR):
            num, den = self.month_value(code, month)
            e_num, e_den = expected.get(month, (0.0, 0.0))
            msg = f"{code} {month}"
            self.assertAlmostEqual(num, e_num, places=4, msg=msg + " numerator")
            self.assertAlmostEqual(den, e_den, places=4, msg=msg + " denominator")

    def queued_days(self):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT day FROM crm_kpi_changed_day WHERE company_id = %s",
                self.company.id,
            )
        )
        return {day for (day,) in self.env.cr.fetchall()}

    def clear_queue(self):
        self.env.flush_all()
        self.env.cr.execute("DELETE FROM crm_kpi_changed_day")
