from datetime import date, datetime

from odoo.tests import new_test_user
from odoo.tools import SQL

from odoo.addons.base.tests.common import BaseCommon


class KpiCommon(BaseCommon):
    """A hand-built CRM of four customers over January to April 2026.

    Main company: EUR, Europe/Berlin, churn after 60 days, CLV margin 50 %.
    Every figure the tests expect is worked out by hand from this fixture in
    the test that asserts it. Times are UTC noon unless a test says otherwise,
    so that local (Berlin) days equal UTC days.

    Deals (W = won, L = lost, O = open; type opportunity unless said)::

        L0  A   created 2024-12-15  W 2025-01-15   400        team T1
        L1  A1  created 2025-12-10  W 2026-01-15  1000  campaign C1, 2 done acts
        L2  B   created 2026-01-05  W 2026-01-20  2000  team T2, 1 done act
        L3  A   created 2026-01-20  W 2026-02-10   500
        L4  C   created 2026-02-01  L 2026-02-25        converted 02-02, 3 acts
        L5  C   created 2026-02-03  W 2026-03-05  3000  type renewal
        L6  B   created 2026-03-01  L 2026-03-20        renewal, source Referral
        L7  -   created 2026-03-10  O (lead)             referred by A
        L8  D   created 2026-01-10  O                    no team

    A1 is a contact of company A. A and C belong to salesperson u1 (team T1),
    B to u2 (team T2); D has no salesperson. Segments: A, C in S1; B in S2.
    """

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
        cls.eur = cls.company.currency_id

        cls.user1 = new_test_user(
            cls.env, login="kpi_u1", groups="sales_team.group_sale_salesman"
        )
        cls.user2 = new_test_user(
            cls.env, login="kpi_u2", groups="sales_team.group_sale_salesman"
        )
        Team = cls.env["crm.team"]
        cls.team1 = Team.create({"name": "T1", "member_ids": [(6, 0, cls.user1.ids)]})
        cls.team2 = Team.create({"name": "T2", "member_ids": [(6, 0, cls.user2.ids)]})
        Segment = cls.env["crm.kpi.segment"]
        cls.seg1 = Segment.create({"name": "S1", "sequence": 1})
        cls.seg2 = Segment.create({"name": "S2", "sequence": 2})
        cls.campaign = cls.env["utm.campaign"].create({"name": "C1"})
        cls.referral_source = cls.env["utm.source"].create(
            {"name": "Referral (test)", "kpi_is_referral": True}
        )

        Partner = cls.env["res.partner"]
        de = cls.env.ref("base.de")
        cls.cust_a = Partner.create(
            {
                "name": "A GmbH",
                "is_company": True,
                "user_id": cls.user1.id,
                "kpi_segment_id": cls.seg1.id,
                "email": "a@example.com",
                "phone": "+49 1",
                "country_id": de.id,
            }
        )
        cls.contact_a1 = Partner.create(
            {
                "name": "Anna A",
                "parent_id": cls.cust_a.id,
                "email": "anna@example.com",
            }
        )
        cls.cust_b = Partner.create(
            {
                "name": "B AG",
                "is_company": True,
                "user_id": cls.user2.id,
                "kpi_segment_id": cls.seg2.id,
                "email": "b@example.com",
                "country_id": de.id,
            }
        )
        cls.cust_c = Partner.create(
            {
                "name": "C KG",
                "is_company": True,
                "user_id": cls.user1.id,
                "kpi_segment_id": cls.seg1.id,
                "email": "c@example.com",
                "phone": "+49 3",
                "country_id": de.id,
            }
        )
        cls.cust_d = Partner.create({"name": "D e.K.", "is_company": True})
        cls.partners = cls.cust_a | cls.contact_a1 | cls.cust_b | cls.cust_c
        cls.partners |= cls.cust_d
        cls._sql_dates("res_partner", cls.partners, create_date=datetime(2024, 1, 1))

        cls.won_stage = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        cls.l0 = cls._deal(
            "L0",
            cls.cust_a,
            cls.team1,
            cls.user1,
            datetime(2024, 12, 15, 12),
            won=datetime(2025, 1, 15, 12),
            revenue=400,
        )
        cls.l1 = cls._deal(
            "L1",
            cls.contact_a1,
            cls.team1,
            cls.user1,
            datetime(2025, 12, 10, 12),
            won=datetime(2026, 1, 15, 12),
            revenue=1000,
            campaign_id=cls.campaign.id,
        )
        cls.l2 = cls._deal(
            "L2",
            cls.cust_b,
            cls.team2,
            cls.user2,
            datetime(2026, 1, 5, 12),
            won=datetime(2026, 1, 20, 12),
            revenue=2000,
        )
        cls.l3 = cls._deal(
            "L3",
            cls.cust_a,
            cls.team1,
            cls.user1,
            datetime(2026, 1, 20, 12),
            won=datetime(2026, 2, 10, 12),
            revenue=500,
        )
        cls.l4 = cls._deal(
            "L4",
            cls.cust_c,
            cls.team1,
            cls.user1,
            datetime(2026, 2, 1, 12),
            lost=datetime(2026, 2, 25, 12),
            conversion=datetime(2026, 2, 2, 12),
        )
        cls.l5 = cls._deal(
            "L5",
            cls.cust_c,
            cls.team1,
            cls.user1,
            datetime(2026, 2, 3, 12),
            won=datetime(2026, 3, 5, 12),
            revenue=3000,
            kpi_deal_type="renewal",
        )
        cls.l6 = cls._deal(
            "L6",
            cls.cust_b,
            cls.team2,
            cls.user2,
            datetime(2026, 3, 1, 12),
            lost=datetime(2026, 3, 20, 12),
            kpi_deal_type="renewal",
            source_id=cls.referral_source.id,
        )
        cls.l7 = cls._deal(
            "L7",
            False,
            cls.team2,
            cls.user2,
            datetime(2026, 3, 10, 12),
            type="lead",
            kpi_referrer_id=cls.cust_a.id,
        )
        cls.l8 = cls._deal("L8", cls.cust_d, False, False, datetime(2026, 1, 10, 12))

        call = cls.env.ref("mail.mail_activity_data_call")
        for lead, count in ((cls.l1, 2), (cls.l2, 1), (cls.l4, 3)):
            cls.env["mail.message"].create(
                [
                    {
                        "model": "crm.lead",
                        "res_id": lead.id,
                        "message_type": "notification",
                        "mail_activity_type_id": call.id,
                        "body": "Call done",
                    }
                    for _i in range(count)
                ]
            )

        Feedback = cls.env["crm.kpi.feedback"]
        for partner, kind, score, day in (
            (cls.cust_a, "nps", 10, date(2026, 1, 10)),
            (cls.cust_b, "nps", 5, date(2026, 1, 12)),
            (cls.contact_a1, "nps", 8, date(2026, 1, 20)),
            (cls.cust_c, "nps", 9, date(2026, 2, 3)),
            (cls.cust_c, "nps", 10, date(2026, 2, 4)),
            (cls.cust_b, "nps", 7, date(2026, 2, 5)),
            (cls.cust_b, "nps", 2, date(2026, 3, 15)),
            (cls.cust_a, "ces", 2, date(2026, 2, 6)),
            (cls.cust_b, "ces", 5, date(2026, 2, 7)),
        ):
            Feedback.create(
                {"partner_id": partner.id, "kind": kind, "score": score, "date": day}
            )

        Cost = cls.env["crm.kpi.cost"]
        for category, amount, day, extra in (
            ("marketing", 600, date(2026, 1, 5), {"campaign_id": cls.campaign.id}),
            ("sales", 300, date(2026, 1, 31), {}),
            ("marketing", 200, date(2026, 2, 10), {}),
            ("retention", 100, date(2026, 2, 11), {}),
            ("marketing", 400, date(2026, 3, 1), {}),
            ("visitors", 1000, date(2026, 1, 15), {}),
        ):
            Cost.create({"category": category, "amount": amount, "date": day, **extra})

        cls.env["crm.kpi.user.login"].create(
            [
                {
                    "user_id": cls.user1.id,
                    "company_id": cls.company.id,
                    "day": date(2026, 1, 5),
                    "count": 3,
                },
                {
                    "user_id": cls.user1.id,
                    "company_id": cls.company.id,
                    "day": date(2026, 1, 6),
                    "count": 2,
                },
                {
                    "user_id": cls.user2.id,
                    "company_id": cls.company.id,
                    "day": date(2026, 1, 7),
                    "count": 1,
                },
            ]
        )

    @classmethod
    def _company_b_user(cls, login, groups):
        """A second company, "Firma B", and a user who works only there."""
        if not getattr(cls, "company_b", None):
            cls.company_b = cls.env["res.company"].create({"name": "Firma B"})
        return new_test_user(
            cls.env,
            login=login,
            groups=groups,
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )

    @classmethod
    def _sql_dates(cls, table, records, **values):
        records.flush_recordset()
        cls.env.cr.execute(
            SQL(
                "UPDATE %s SET %s WHERE id IN %s",
                SQL.identifier(table),
                SQL(", ").join(
                    SQL("%s = %s", SQL.identifier(k), v) for k, v in values.items()
                ),
                tuple(records.ids),
            )
        )
        records.invalidate_recordset()

    @classmethod
    def _deal(
        cls,
        name,
        partner,
        team,
        user,
        created,
        won=None,
        lost=None,
        revenue=0,
        conversion=None,
        company=None,
        **extra,
    ):
        """A deal with exactly these dates (Odoo stamps create_date and
        date_closed with the transaction time, so they are set in SQL)."""
        vals = {
            "name": name,
            "type": "opportunity",
            "partner_id": partner.id if partner else False,
            "team_id": team.id if team else False,
            "user_id": user.id if user else False,
            "expected_revenue": revenue,
            **extra,
        }
        if company:
            vals["company_id"] = company.id
        lead = cls.env["crm.lead"].create(vals)
        if won:
            lead.action_set_won()
        if lost:
            lead.action_set_lost()
        cls._sql_dates(
            "crm_lead",
            lead,
            create_date=created,
            date_closed=won or lost,
            date_conversion=conversion,
        )
        return lead

    def stage_events(self, events):
        """Lifecycle events [(partner, to_stage, date)] of the main company."""
        return self.env["crm.kpi.lifecycle.event"].create(
            [
                {
                    "partner_id": partner.id,
                    "company_id": self.company.id,
                    "to_stage": stage,
                    "date": day,
                }
                for partner, stage, day in events
            ]
        )

    def forget_facts(self, since=None):
        """Delete the stored facts and monthly totals (from month ``since``
        on), so that the next run writes them anew."""
        self.env.flush_all()
        where = SQL("WHERE date >= %s", since) if since else SQL()
        self.env.cr.execute(SQL("DELETE FROM crm_kpi_value %s", where))
        self.env.cr.execute(SQL("DELETE FROM crm_kpi_total %s", where))
        self.env.invalidate_all()

    def recompute(self, **kwargs):
        kwargs.setdefault("date_from", date(2026, 1, 1))
        kwargs.setdefault("date_to", date(2026, 4, 1))
        return self.env["crm.kpi.run"].recompute(**kwargs)

    def engine(self, month_to, month_from=None, history=False, companies=None):
        """A run of the engine over ``companies`` (default: the fixture's)."""
        return self.env["crm.kpi.run"]._new_engine_run(
            companies or self.company, month_to, month_from=month_from, history=history
        )

    def facts(self, code, company=None, **dims):
        domain = [
            ("kpi_code", "=", code),
            ("company_id", "=", (company or self.company).id),
        ]
        domain += [(k, "=", v) for k, v in dims.items()]
        return self.env["crm.kpi.value"].search(domain)

    def month_value(self, code, month, company=None, groupby=(), **dims):
        """(numerator, denominator, value) of a KPI in one month, aggregated
        the way pivot views aggregate it."""
        domain = [
            ("kpi_code", "=", code),
            ("date", "=", month),
            ("company_id", "=", (company or self.company).id),
        ]
        domain += [(k, "=", v) for k, v in dims.items()]
        groups = self.env["crm.kpi.value"]._read_group(
            domain, list(groupby), ["numerator:sum", "denominator:sum", "value:sum"]
        )
        if not groupby:
            num, den, value = groups[0] if groups else (0.0, 0.0, None)
            return num or 0.0, den or 0.0, value
        return {g[: len(groupby)]: g[len(groupby) :] for g in groups}

    def assertMonths(self, code, expected, company=None):
        """``expected``: {month (1..4 of 2026): (num, den, value)}; a month
        missing from it must have no fact at all."""
        for month in range(1, 5):
            num, den, value = self.month_value(code, date(2026, month, 1), company)
            if month not in expected:
                self.assertEqual(
                    (num, den),
                    (0.0, 0.0),
                    f"{code} 2026-{month:02d} should have no figures",
                )
                continue
            e_num, e_den, e_value = expected[month]
            msg = f"{code} 2026-{month:02d}"
            self.assertAlmostEqual(num, e_num, places=4, msg=msg + " numerator")
            self.assertAlmostEqual(den, e_den, places=4, msg=msg + " denominator")
            if e_value is None:
                self.assertFalse(value, msg + " value must be empty")
            else:
                self.assertAlmostEqual(value, e_value, places=2, msg=msg + " value")
