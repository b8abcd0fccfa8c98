"""Why did it change: the arithmetic and the breakdown of the figures."""

from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.crm_strategic_kpi.engine.rules import decompose_change

from .common import KpiCommon

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


@tagged("post_install", "-at_install")
class TestChangeBreakdown(KpiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.run"].recompute(date_from=JAN, date_to=date(2026, 4, 1))
        cls.user_b = cls._company_b_user("kpi_b_why", "sales_team.group_sale_manager")

    def test_rate_and_mix_effects_add_up(self):
        """The example of the specification: win rate (factor 100), team A
        2/10 then 6/20, B 3/10 then 1/5, C 1/5 then nothing. 24.00 % to
        28.00 %: A rate +4.00 mix +12.00, B -4.00 and -4.00, C 0 and -4.00."""
        effects = decompose_change(
            100.0,
            True,
            {"A": (2, 10), "B": (3, 10), "C": (1, 5)},
            {"A": (6, 20), "B": (1, 5)},
        )
        rounded = {g: (round(r, 2), round(m, 2)) for g, (r, m) in effects.items()}
        self.assertEqual(
            rounded, {"A": (4.0, 12.0), "B": (-4.0, -4.0), "C": (0.0, -4.0)}
        )
        self.assertAlmostEqual(sum(r + m for r, m in effects.values()), 4.0, places=9)
        # counts: each group's difference
        self.assertEqual(
            decompose_change(1.0, False, {"A": (5, 0)}, {"A": (7, 0), "B": (1, 0)}),
            {"A": (0.0, 2.0), "B": (0.0, 1.0)},
        )
        # no value in a period: nothing to explain
        self.assertIsNone(decompose_change(100.0, True, {"A": (0, 0)}, {"A": (1, 2)}))

    def _breakdown(self, code, user=None, **values):
        Breakdown = self.env["crm.kpi.change.breakdown"]
        if user:
            Breakdown = Breakdown.with_user(user)
        return Breakdown.create(
            {
                "kpi_id": self.env["crm.kpi"].search([("code", "=", code)]).id,
                "date_from": FEB,
                "months": 1,
                "previous_from": JAN,
                "previous_months": 1,
                **values,
            }
        )

    def test_close_rate_january_to_february_by_team(self):
        """Close rate (won of closed, %): January T1 1/1 (L1), T2 1/1 (L2):
        100 %; February T1 1/2 (L3 won, L4 lost), T2 nothing: 50 %; -50.
        T1: weight 0.5 -> 1, rate 1 -> 0.5: rate effect 100 x 0.5 x -0.5 =
        -25, mix effect 100 x 0.5 x 0.5 = +25. T2, in January only: mix
        effect -100 x 0.5 x 1 = -50."""
        breakdown = self._breakdown("close_rate")
        self.assertEqual(
            (breakdown.value_before, breakdown.value_after, breakdown.change),
            (100, 50, -50),
        )
        lines = {
            line.name: (line.rate_effect, line.mix_effect, line.contribution)
            for line in breakdown.line_ids
        }
        self.assertEqual(lines, {"T1": (-25, 25, 0), "T2": (0, -50, -50)})
        # the largest contribution first; T2 made it worse
        self.assertEqual(breakdown.line_ids[0].name, "T2")
        self.assertEqual(breakdown.line_ids[0].direction, "bad")
        # by salesperson: the same groups under other names
        breakdown.dimension = "user_id"
        self.assertEqual(
            {line.name: line.contribution for line in breakdown.line_ids},
            {self.user1.name: 0, self.user2.name: -50},
        )

    def test_won_deals_january_to_february_by_team(self):
        """Won deals: January L1 (T1), L2 (T2); February L3 (T1): T1 0, T2
        -1; the records behind T1 are February's deal L3."""
        breakdown = self._breakdown("won_count")
        self.assertEqual((breakdown.value_before, breakdown.value_after), (2, 1))
        lines = {line.name: line for line in breakdown.line_ids}
        self.assertEqual(
            {name: line.contribution for name, line in lines.items()},
            {"T1": 0, "T2": -1},
        )
        action = lines["T1"].action_open_records()
        self.assertEqual(action["domain"][0][2], self.l3.ids)
        # T2 is in January only: its records are January's L2
        action = lines["T2"].action_open_records()
        self.assertEqual(action["domain"][0][2], self.l2.ids)

    def test_breakdown_sees_what_the_facts_rules_let_see(self):
        """u2 reads his team's facts only: his breakdown of the close rate
        has T2 alone (100 % to nothing: no value in February, nothing to
        explain); a user of company B has no figures at all. Neither opens
        another's breakdown."""
        mine = self._breakdown("close_rate", user=self.user2)
        self.assertEqual(mine.value_before, 100)
        self.assertFalse(mine.has_values)
        self.assertFalse(mine.line_ids)
        theirs = self._breakdown("won_count", user=self.user_b)
        self.assertEqual((theirs.value_before, theirs.value_after), (0, 0))
        self.assertFalse(theirs.line_ids)
        self.env.invalidate_all()
        Breakdown = self.env["crm.kpi.change.breakdown"]
        self.assertFalse(
            Breakdown.with_user(self.user_b).search([("id", "=", mine.id)])
        )
        with self.assertRaises(AccessError):
            mine.with_user(self.user_b).read(["change"])
        with self.assertRaises(AccessError):
            theirs.with_user(self.user2).write({"dimension": "user_id"})
