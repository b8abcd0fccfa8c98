from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import KpiCommon

COMPANY_MODELS = [
    "crm.kpi.value",
    "crm.kpi.total",
    "crm.kpi.cost",
    "crm.kpi.feedback",
    "crm.kpi.feedback.request",
    "crm.kpi.segment",
    "crm.kpi.lifecycle.event",
    "crm.kpi.goal",
    "crm.kpi.goal.checkpoint",
    "crm.kpi.changed.day",
    "crm.kpi.user.login",
]


@tagged("post_install", "-at_install")
class TestRecordRules(KpiCommon):
    """Every record rule of the addon, with a user of company B who must see
    nothing of company A."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.run"].recompute(
            date_from=date(2026, 1, 1), date_to=date(2026, 4, 1)
        )
        cls.env["res.partner"].browse()._kpi_refresh_customers()
        cls.env["crm.kpi.segment"].create(
            {"name": "Only A", "company_id": cls.company.id}
        )
        Request = cls.env["crm.kpi.feedback.request"]
        Request.create(Request._prepare_request_values(cls.l1, cls.cust_a))
        cls.goal = cls.env["crm.kpi.goal"].create(
            {
                "name": "A's goal",
                "user_id": cls.user1.id,
                "kpi_id": cls.env.ref("crm_strategic_kpi.kpi_won_count").id,
            }
        )
        cls.env["crm.kpi.goal.checkpoint"].create(
            {"goal_id": cls.goal.id, "date": date(2026, 4, 1), "progress": 10}
        )
        cls.env["crm.kpi.changed.day"]._mark([(cls.company.id, date(2026, 4, 2))])
        cls.user_b = cls._company_b_user(
            "kpi_b", "sales_team.group_sale_manager,base.group_system"
        )
        cls.all_leads = new_test_user(
            cls.env,
            login="kpi_all",
            groups="sales_team.group_sale_salesman_all_leads",
        )

    def test_company_a_has_a_record_of_every_model(self):
        for model in COMPANY_MODELS:
            self.assertTrue(self.env[model].search_count([]), model)

    def test_company_b_sees_nothing_of_company_a(self):
        for model in COMPANY_MODELS:
            found = self.env[model].with_user(self.user_b).search([])
            self.assertFalse(
                found.filtered(lambda r: r.company_id == self.company), model
            )
        # shared segments (no company) stay visible; A's own segment does not
        segments = self.env["crm.kpi.segment"].with_user(self.user_b).search([])
        self.assertNotIn("Only A", segments.mapped("name"))

    def test_company_b_cannot_read_a_record_of_a(self):
        fact = self.env["crm.kpi.value"].search([], limit=1)
        with self.assertRaises(AccessError):
            fact.with_user(self.user_b).read(["value"])

    def test_salesperson_sees_own_team_facts(self):
        facts = self.env["crm.kpi.value"].with_user(self.user1).search([])
        self.assertTrue(facts)
        self.assertEqual(facts.team_id, self.team1)

    def test_own_team_readers_never_read_company_totals(self):
        """Salespeople who see only their teams' facts get group sums of
        those facts, never the company-wide monthly totals."""
        Value = self.env["crm.kpi.value"].with_user(self.user1)
        self.assertFalse(self.env["crm.kpi.total"].with_user(self.user1).search([]))
        args = ([("kpi_code", "=", "won_count")], ["date:month"], ["numerator:sum"])
        self.assertIsNone(Value._totals_spec(args[0], args[1], args[2], (), None))
        mine = Value._read_group(*args)
        team_only = self.env["crm.kpi.value"]._read_group(
            [*args[0], ("team_id", "=", self.team1.id)], *args[1:]
        )
        everything = self.env["crm.kpi.value"]._read_group(*args)
        self.assertEqual(mine, team_only)
        self.assertNotEqual(mine, everything)

    def test_totals_only_where_their_rules_are_the_facts_rules(self):
        """An administrator who lets salespeople see every team's facts (the
        own-team rule archived) does not open the totals to them: they read
        the facts."""
        self.env.ref("crm_strategic_kpi.crm_kpi_value_rule_own_teams").active = False
        Value = self.env["crm.kpi.value"].with_user(self.user1)
        args = ([("kpi_code", "=", "won_count")], ["date:month"], ["numerator:sum"])
        self.assertIsNone(Value._totals_spec(args[0], args[1], args[2], (), None))
        self.assertEqual(
            Value._read_group(*args), self.env["crm.kpi.value"]._read_group(*args)
        )

    def test_all_leads_user_reads_totals(self):
        Value = self.env["crm.kpi.value"].with_user(self.all_leads)
        args = ([("kpi_code", "=", "won_count")], ["date:month"], ["numerator:sum"])
        self.assertIsNotNone(Value._totals_spec(args[0], args[1], args[2], (), None))
        self.assertEqual(
            Value._read_group(*args),
            Value.with_context(kpi_facts_only=True)._read_group(*args),
        )

    def test_all_leads_user_sees_every_fact(self):
        everything = self.env["crm.kpi.value"].with_user(self.all_leads).search([])
        self.assertEqual(everything, self.env["crm.kpi.value"].search([]))

    def test_goals_read_by_owner_and_team_managed_by_owner(self):
        goal_as_u2 = self.goal.with_user(self.user2)
        with self.assertRaises(AccessError):
            goal_as_u2.read(["name"])
        with self.assertRaises(AccessError):
            goal_as_u2.write({"name": "taken"})
        self.goal.with_user(self.user1).write({"name": "mine"})
        manager = new_test_user(
            self.env, login="kpi_mgr", groups="crm_strategic_kpi.group_kpi_manager"
        )
        self.goal.with_user(manager).write({"name": "managed"})
        self.assertEqual(self.goal.name, "managed")
        self.assertEqual(self.goal.with_user(self.all_leads).name, "managed")

    def test_technical_models_are_for_administrators(self):
        for model in (
            "crm.kpi.changed.day",
            "crm.kpi.user.login",
            "crm.kpi.feedback.request",
        ):
            with self.assertRaises(AccessError):
                self.env[model].with_user(self.user1).search([])

    def test_users_cannot_write_facts(self):
        fact = self.env["crm.kpi.value"].search(
            [("team_id", "=", self.team1.id)], limit=1
        )
        with self.assertRaises(AccessError):
            fact.with_user(self.user1).write({"numerator": 1})
