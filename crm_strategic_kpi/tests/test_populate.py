from collections import Counter
from datetime import datetime

from dateutil.relativedelta import relativedelta

from odoo.cli.command import find_command
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.populate import SIZES, PopulateError, populate

# The end of the generated history: fixed, so that the data does not depend on
# the day the tests run.
NOW = datetime(2026, 3, 18, 15, 30, 12)
TINY = {"customers": 30, "leads": 300, "teams": (1, 1, 1, 1)}
CORE_STEPS = (
    "companies",
    "users",
    "catalogues",
    "plan",
    "partners",
    "leads",
    "activities",
    "feedback",
    "finalize",
)


@tagged("post_install", "-at_install")
class TestPopulate(TransactionCase):
    def _rows(self, table, ids, references):
        """Every stored column of the given rows, in generation order, with
        the references to generated rows replaced by their position."""
        self.env.flush_all()
        # the columns other installed addons (Invoicing) add to these tables
        # are theirs: the generator writes the CRM's data
        foreign = self._foreign_columns(table)
        self.env.cr.execute(
            SQL(
                "SELECT * FROM %s WHERE id = ANY(%s) ORDER BY id",
                SQL.identifier(table),
                list(ids),
            )
        )
        columns = [column.name for column in self.env.cr.description]
        rows = []
        for values in self.env.cr.fetchall():
            row = dict(zip(columns, values, strict=True))
            del row["id"]
            for column in foreign:
                row.pop(column, None)
            for column, positions in references.items():
                if row[column] is not None:
                    row[column] = positions.get(row[column], ("foreign", row[column]))
            rows.append(row)
        return rows

    def _foreign_columns(self, table):
        """The columns of ``table`` whose fields only modules outside this
        addon's dependencies define."""
        Module = self.env["ir.module.module"]
        todo, ours = ["crm_strategic_kpi"], set()
        while todo:
            name = todo.pop()
            if name not in ours:
                ours.add(name)
                todo += Module.search([("name", "=", name)]).dependencies_id.mapped(
                    "name"
                )
        model = next(
            model for model in self.env.registry.values() if model._table == table
        )
        return {
            name
            for name, field in model._fields.items()
            if field.store and not set(field._modules) & ours
        }

    def _snapshot(self, ctx):
        partners = {
            partner_id: ("partner", position)
            for position, partner_id in enumerate(ctx.partner_ids)
        }
        leads = {
            lead_id: ("lead", position) for position, lead_id in enumerate(ctx.lead_ids)
        }
        self.assertEqual(sorted(ctx.partner_ids), ctx.partner_ids)
        self.assertEqual(sorted(ctx.lead_ids), ctx.lead_ids)
        return {
            "res_partner": self._rows(
                "res_partner",
                ctx.partner_ids,
                {"parent_id": partners, "commercial_partner_id": partners},
            ),
            "crm_lead": self._rows(
                "crm_lead",
                ctx.lead_ids,
                {"partner_id": partners, "kpi_referrer_id": partners},
            ),
            "mail_message": self._rows(
                "mail_message", ctx.message_ids, {"res_id": leads}
            ),
            "crm_kpi_feedback": self._rows(
                "crm_kpi_feedback",
                ctx.feedback_ids,
                {
                    "partner_id": partners,
                    "commercial_partner_id": partners,
                    "res_id": leads,
                },
            ),
        }

    def _delete(self, ctx):
        self.env.flush_all()
        self.env.cr.execute(
            SQL("DELETE FROM crm_kpi_feedback WHERE id = ANY(%s)", ctx.feedback_ids)
        )
        self.env.cr.execute(
            SQL("DELETE FROM mail_message WHERE id = ANY(%s)", ctx.message_ids)
        )
        self.env.cr.execute(
            SQL("DELETE FROM crm_lead WHERE id = ANY(%s)", list(ctx.lead_ids))
        )
        self.env.cr.execute(
            SQL("DELETE FROM res_partner WHERE id = ANY(%s)", list(ctx.partner_ids))
        )
        self.env.invalidate_all()

    def _assert_same_rows(self, table, orm_rows, sql_rows):
        self.assertEqual(len(orm_rows), len(sql_rows), f"{table}: row count")
        self.assertTrue(orm_rows, f"{table}: nothing generated")
        for position, (orm_row, sql_row) in enumerate(
            zip(orm_rows, sql_rows, strict=True)
        ):
            differences = {
                column: (value, sql_row.get(column))
                for column, value in orm_row.items()
                if sql_row.get(column) != value
            }
            self.assertFalse(
                differences,
                f"{table} row {position}: (ORM, SQL) values differ: {differences}",
            )

    def test_sizes(self):
        self.assertEqual(SIZES["small"]["customers"], 500)
        self.assertEqual(SIZES["small"]["leads"], 5_000)
        self.assertEqual(SIZES["large"]["customers"], 200_000)
        self.assertEqual(SIZES["large"]["leads"], 1_000_000)

    def test_orm_and_bulk_paths_store_the_same_rows(self):
        """The bulk (COPY) writer stores exactly what the ORM stores: every
        stored column of every generated lead and partner (and of the done
        activities and feedback), references to generated rows compared by
        their position in the generation order."""
        orm = populate(self.env, method="orm", now=NOW, steps=CORE_STEPS, **TINY)
        orm_rows = self._snapshot(orm)
        self._delete(orm)
        bulk = populate(
            self.env, method="sql", now=NOW, steps=CORE_STEPS, force=True, **TINY
        )
        bulk_rows = self._snapshot(bulk)
        for table in ("res_partner", "crm_lead", "mail_message", "crm_kpi_feedback"):
            self._assert_same_rows(table, orm_rows[table], bulk_rows[table])

    def test_generated_dataset_is_consistent(self):
        ctx = populate(
            self.env, method="orm", now=NOW, customers=60, leads=600, teams=(2, 1, 1, 1)
        )
        env = self.env
        counts = ctx.counts
        self.assertEqual(counts["crm.lead"], 600)
        self.assertGreater(counts["mail.message (done activities)"], 300)
        self.assertGreater(counts["crm.kpi.feedback"], 10)
        self.assertEqual(counts["crm.kpi.cost"], len(env["crm.kpi.cost"].search([])))
        self.assertTrue(counts["crm.kpi.user.login"])
        leads = env["crm.lead"].with_context(active_test=False).browse(ctx.lead_ids)
        partners = (
            env["res.partner"].with_context(active_test=False).browse(ctx.partner_ids)
        )
        won = leads.filtered(lambda lead: lead.won_status == "won")
        lost = leads.filtered(lambda lead: lead.won_status == "lost")
        pending = leads - won - lost
        self.assertTrue(won and lost and pending)

        # the funnel: won deals are won opportunities of a customer
        for lead in won:
            self.assertEqual(lead.type, "opportunity")
            self.assertEqual(lead.probability, 100)
            self.assertTrue(lead.stage_id.is_won)
            self.assertTrue(lead.active)
            self.assertTrue(lead.partner_id)
            self.assertTrue(lead.date_closed)
        for lead in lost:
            self.assertFalse(lead.active)
            self.assertEqual(lead.probability, 0)
            self.assertTrue(lead.lost_reason_id)
            self.assertTrue(lead.date_closed)
        for lead in pending:
            self.assertTrue(lead.active)
            self.assertFalse(lead.date_closed)
            self.assertFalse(lead.stage_id.is_won)
        self.assertTrue(
            leads.filtered("date_conversion")
            <= leads.filtered(lambda lead: lead.type == "opportunity")
        )
        # the dates follow each other
        for lead in leads:
            dates = [
                lead.create_date,
                lead.date_open,
                lead.date_conversion,
                lead.date_closed,
                NOW,
            ]
            dates = [day for day in dates if day]
            self.assertEqual(dates, sorted(dates), lead.name)
            self.assertTrue(
                lead.create_date <= lead.date_last_stage_update <= NOW, lead.name
            )
            self.assertEqual(
                lead.day_close,
                (lead.date_closed - lead.create_date).days if lead.date_closed else 0,
            )
            if lead.user_id:
                self.assertIn(lead.user_id, lead.team_id.member_ids)
            self.assertEqual(lead.company_id, lead.team_id.company_id)
            if lead.partner_id:
                self.assertEqual(lead.partner_id.company_id, lead.company_id)
                self.assertLessEqual(
                    lead.partner_id.create_date,
                    lead.date_conversion or lead.create_date,
                )
        # 36 months of history ending in NOW's month, quieter in August
        months = Counter(lead.create_date.strftime("%Y-%m") for lead in leads)
        first = ctx.start_month
        self.assertEqual(
            sorted(months),
            [(first + relativedelta(months=m)).strftime("%Y-%m") for m in range(36)],
        )
        self.assertEqual(max(months), NOW.strftime("%Y-%m"))
        by_month = Counter(lead.create_date.month for lead in leads)
        self.assertLess(by_month[8], by_month[10])
        # repeat purchases, deal types, referrals, both companies
        won_per_customer = Counter(
            lead.partner_id.commercial_partner_id for lead in won
        )
        self.assertGreater(max(won_per_customer.values()), 2)
        self.assertIn(1, won_per_customer.values())
        self.assertTrue(won.filtered("kpi_deal_type"))
        self.assertTrue(won.filtered(lambda lead: not lead.kpi_deal_type))
        self.assertTrue(leads.filtered("kpi_referrer_id"))
        self.assertTrue(leads.filtered("source_id.kpi_is_referral"))
        self.assertEqual(len(leads.company_id), 2)
        self.assertTrue(leads.filtered("campaign_id"))

        # customers: companies with one to three contacts, varying completeness
        companies = partners.filtered("is_company")
        contacts = partners - companies
        self.assertLessEqual(len(companies), 60)
        for company in companies:
            self.assertIn(len(company.child_ids), (1, 2, 3))
            self.assertTrue(company.kpi_segment_id)
            self.assertTrue(company.user_id)
        self.assertEqual(contacts.commercial_partner_id, companies)
        self.assertTrue(companies.filtered(lambda p: not p.email))
        self.assertTrue(companies.filtered(lambda p: not p.phone))
        self.assertGreater(len(companies.kpi_segment_id), 1)
        self.assertEqual(env.ref("base.main_company").currency_id.name, "EUR")
        self.assertEqual(env.ref("base.main_company").partner_id.tz, "Europe/Berlin")

        # feedback after won deals, scores in range (the helpdesk bridge, when
        # installed, adds CES after tickets: tested there)
        feedback = env["crm.kpi.feedback"].search([("res_model", "=", "crm.lead")])
        self.assertEqual(set(feedback.mapped("kind")), {"nps", "ces"})
        for item in feedback:
            deal = env["crm.lead"].browse(item.res_id)
            self.assertEqual(deal.won_status, "won")
            self.assertGreater(item.date, deal.date_closed.date())
            self.assertLessEqual(item.date, NOW.date())
            low, high = (0, 10) if item.kind == "nps" else (1, 7)
            self.assertTrue(low <= item.score <= high)
        self.assertEqual(
            set(feedback.filtered(lambda f: f.kind == "nps").mapped("category")),
            {"promoter", "passive", "detractor"},
        )

        # done activities: messages with an activity type within the deal's life
        messages = env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "in", leads.ids),
                ("mail_activity_type_id", "!=", False),
            ]
        )
        self.assertEqual(len(messages), counts["mail.message (done activities)"])
        for message in messages:
            deal = leads.browse(message.res_id)
            self.assertTrue(
                deal.create_date <= message.date <= (deal.date_closed or NOW)
            )

        # costs and traffic for every month and company, logins of salespeople
        costs = env["crm.kpi.cost"].search([])
        for company in leads.company_id:
            for category in ("marketing", "sales", "retention", "visitors"):
                self.assertEqual(
                    len(
                        set(
                            costs.filtered(
                                lambda c, company=company, category=category: (
                                    c.company_id == company and c.category == category
                                )
                            ).mapped("date")
                        )
                    ),
                    36,
                )
        self.assertTrue(all(cost.amount >= 0 for cost in costs))
        logins = env["crm.kpi.user.login"].search([])
        self.assertTrue(logins.user_id <= leads.user_id | ctx.ref["members"]["key"])
        self.assertLessEqual(max(logins.mapped("day")), NOW.date())

        # the KPI recompute queue holds the generated months, a second run is
        # refused
        self.assertTrue(env["crm.kpi.changed.day"].search_count([]))
        with self.assertRaises(PopulateError):
            populate(self.env, now=NOW, customers=5, leads=20)

    def test_same_seed_same_data(self):
        def plan(seed):
            ctx = populate(
                self.env,
                seed=seed,
                now=NOW,
                force=True,
                customers=40,
                leads=200,
                steps=("companies", "users", "catalogues", "plan"),
            )
            return [
                (lead["name"], lead["create_date"], lead["expected_revenue"])
                for lead in ctx.leads
            ]

        self.assertEqual(plan(7), plan(7))
        self.assertNotEqual(plan(7), plan(8))

    def test_command_is_found(self):
        command = find_command("kpi_populate")
        self.assertTrue(command)
        self.assertEqual(command.name, "kpi_populate")
