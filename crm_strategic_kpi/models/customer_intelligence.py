"""Where every customer stands, computed set-based in SQL: latest NPS,
lifecycle stage (with its history of events), RFM scores and the forecast of
the next purchase.

All figures are kept on the commercial partner and copied to its contacts.
Days are counted between UTC dates: "today" minus the day a deal was won.
"""

from dateutil.relativedelta import relativedelta

from odoo.tools import SQL

from ..engine.rules import DEFAULT_REVENUE_SOURCE

LIFECYCLE_REASONS = [
    ("no_deal", "No lead or deal yet"),
    ("open_lead", "Open lead"),
    ("open_opportunity", "Open opportunity"),
    ("first_deal", "First deal won recently"),
    ("won_again", "Won again after churning"),
    ("recent_deal", "Deal won within the churn period"),
    ("no_recent_deal", "No deal won for a long time"),
    ("detractor", "Latest NPS answer is a detractor"),
    ("promoter", "Latest NPS answer is a promoter"),
    ("referral", "Referred a new customer"),
]

# Named RFM segments on the recency (R) and frequency (F) scores; the
# monetary score only enters the three-digit RFM score.
RFM_SEGMENTS = [
    ("champions", "Champions"),
    ("loyal", "Loyal"),
    ("potential_loyalist", "Potential loyalist"),
    ("new_customers", "New customers"),
    ("promising", "Promising"),
    ("need_attention", "Need attention"),
    ("about_to_sleep", "About to sleep"),
    ("at_risk", "At risk"),
    ("cannot_lose", "Cannot lose them"),
    ("hibernating", "Hibernating"),
    ("lost", "Lost"),
]

RFM_SEGMENT_SQL = SQL(
    """CASE
        WHEN s.r >= 4 AND s.f >= 4 THEN 'champions'
        WHEN s.r = 3 AND s.f >= 4 THEN 'loyal'
        WHEN s.r >= 4 AND s.f >= 2 THEN 'potential_loyalist'
        WHEN s.r = 5 THEN 'new_customers'
        WHEN s.r = 4 THEN 'promising'
        WHEN s.r = 3 AND s.f >= 2 THEN 'need_attention'
        WHEN s.r = 3 THEN 'about_to_sleep'
        WHEN s.f = 5 THEN 'cannot_lose'
        WHEN s.f >= 3 THEN 'at_risk'
        WHEN s.r = 2 THEN 'hibernating'
        ELSE 'lost'
    END"""
)

COPIED_TO_CONTACTS = (
    "lifecycle_stage",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_score",
    "rfm_segment",
    "nps_score",
    "nps_category",
    "nps_date",
    "next_purchase_date",
    "churn_risk",
)


class CustomerIntelligence:
    """One refresh of the customer figures.

    :param today: the reference date
    :param partner_ids: commercial partner ids to refresh, or None for all
    """

    def __init__(self, env, today, partner_ids=None):
        self.env = env
        self.cr = env.cr
        self.today = today
        self.partner_ids = partner_ids
        self.main_company_id = env.ref("base.main_company").id

    def _scope(self, column):
        if self.partner_ids is None:
            return SQL("TRUE")
        return SQL("%s IN %s", column, tuple(self.partner_ids) or (0,))

    def refresh(self):
        self.env.flush_all()
        self._won_deals()
        self.refresh_nps()
        self.refresh_lifecycle()
        if self.partner_ids is None:
            # quintiles are a statistic of all customers: nightly only
            self.refresh_rfm()
        self.refresh_forecast()
        self.copy_to_contacts()
        self.cr.execute("DROP TABLE IF EXISTS kpi_tmp_cust_won")
        self.env["res.partner"].invalidate_model(list(COPIED_TO_CONTACTS))
        self.env["crm.kpi.lifecycle.event"].invalidate_model()

    def _won_deals(self):
        """The customers' purchases by UTC day (``kpi_tmp_cust_won``), each
        company's from its revenue source (won deals, orders or invoices)."""
        self.cr.execute("DROP TABLE IF EXISTS kpi_tmp_cust_won")
        sources = self.env["crm.kpi.run"]._get_catalogue().revenue_sources
        companies = {}
        # every company: a handful of rows
        for company in self.env["res.company"].sudo().search([]):  # pylint: disable=no-search-all
            code = company.kpi_revenue_source
            source = sources.get(code) or sources[DEFAULT_REVENUE_SOURCE]
            companies.setdefault(source, []).append(company.id)
        parts = [
            SQL("(%s)", source.customer_days(self.env, company_ids, self._scope))
            for source, company_ids in companies.items()
        ]
        self.cr.execute(
            SQL(
                "CREATE TEMP TABLE kpi_tmp_cust_won AS "
                "SELECT cp, company_id, day, revenue FROM (%s) d",
                SQL(" UNION ALL ").join(parts),
            )
        )
        self.cr.execute(
            "CREATE INDEX ON kpi_tmp_cust_won (cp); ANALYZE kpi_tmp_cust_won"
        )

    def refresh_nps(self):
        self.cr.execute(
            SQL(
                """
                WITH latest AS (
                    SELECT DISTINCT ON (f.commercial_partner_id)
                           f.commercial_partner_id AS cp, f.score, f.category,
                           f.date
                      FROM crm_kpi_feedback f
                     WHERE f.kind = 'nps' AND %(scope)s
                     ORDER BY f.commercial_partner_id, f.date DESC, f.id DESC
                )
                UPDATE res_partner p
                   SET nps_score = l.score, nps_category = l.category,
                       nps_date = l.date
                  FROM res_partner c
                  LEFT JOIN latest l ON l.cp = c.id
                 WHERE p.id = c.id AND c.id = c.commercial_partner_id
                   AND %(cscope)s
                   AND (p.nps_score, p.nps_category, p.nps_date)
                       IS DISTINCT FROM (l.score, l.category, l.date)
                """,
                scope=self._scope(SQL("f.commercial_partner_id")),
                cscope=self._scope(SQL("c.id")),
            )
        )

    def refresh_lifecycle(self):
        """Classify every commercial partner, record the changes as events."""
        self.cr.execute("DROP TABLE IF EXISTS kpi_tmp_stage")
        self.cr.execute("DROP TABLE IF EXISTS kpi_tmp_cps")
        # the customers to classify, as an indexed table: a CTE referenced
        # twice would be materialised without statistics
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_cps AS
                SELECT p.id, COALESCE(p.company_id, %(main)s) AS company_id,
                       p.lifecycle_stage AS old_stage, p.nps_category
                  FROM res_partner p
                 WHERE p.id = p.commercial_partner_id AND p.active
                   AND NOT EXISTS (SELECT 1 FROM res_users u
                                    WHERE u.partner_id = p.id)
                   AND NOT EXISTS (SELECT 1 FROM res_company rc
                                    WHERE rc.partner_id = p.id)
                   AND %(scope)s
                """,
                main=self.main_company_id,
                scope=self._scope(SQL("p.id")),
            )
        )
        self.cr.execute("CREATE UNIQUE INDEX ON kpi_tmp_cps (id); ANALYZE kpi_tmp_cps")
        self.cr.execute(
            SQL(
                """
                CREATE TEMP TABLE kpi_tmp_stage AS
                WITH won AS (
                    SELECT w.cp, w.day,
                           w.day - LAG(w.day) OVER (PARTITION BY w.cp
                                                    ORDER BY w.day) AS gap
                      FROM kpi_tmp_cust_won w
                ), agg AS (
                    SELECT won.cp, MIN(won.day) AS first_won,
                           MAX(won.day) AS last_won,
                           MAX(won.day) FILTER (WHERE won.gap > co.kpi_churn_days)
                               AS last_return
                      FROM won
                      JOIN kpi_tmp_cps cps ON cps.id = won.cp
                      JOIN res_company co ON co.id = cps.company_id
                     GROUP BY won.cp
                ), open AS (
                    SELECT p.commercial_partner_id AS cp,
                           bool_or(l.type = 'opportunity') AS opportunity,
                           bool_or(l.type = 'lead') AS lead
                      FROM crm_lead l
                      JOIN res_partner p ON p.id = l.partner_id
                     WHERE l.active AND l.won_status = 'pending' AND %(open_scope)s
                     GROUP BY p.commercial_partner_id
                ), referrers AS (
                    SELECT DISTINCT rp.commercial_partner_id AS cp
                      FROM crm_lead l
                      JOIN res_partner rp ON rp.id = l.kpi_referrer_id
                     WHERE l.won_status = 'won' AND %(ref_scope)s
                ), classified AS (
                    -- one decision per customer: (stage, reason)
                    SELECT cps.id AS partner_id, cps.company_id, cps.old_stage,
                      CASE
                        WHEN a.cp IS NULL THEN
                          CASE WHEN o.opportunity
                                 THEN ARRAY['opportunity', 'open_opportunity']
                               WHEN o.lead THEN ARRAY['lead', 'open_lead']
                               ELSE ARRAY['prospect', 'no_deal'] END
                        WHEN %(today)s - a.last_won > co.kpi_churn_days
                          THEN ARRAY['churned', 'no_recent_deal']
                        WHEN a.last_return IS NOT NULL AND %(today)s - a.last_return
                             <= co.kpi_new_customer_days
                          THEN ARRAY['reactivated', 'won_again']
                        WHEN %(today)s - a.first_won <= co.kpi_new_customer_days
                          THEN ARRAY['new_customer', 'first_deal']
                        WHEN %(today)s - a.last_won > co.kpi_at_risk_days
                          THEN ARRAY['at_risk', 'no_recent_deal']
                        WHEN cps.nps_category = 'detractor'
                          THEN ARRAY['at_risk', 'detractor']
                        WHEN cps.nps_category = 'promoter'
                          THEN ARRAY['advocate', 'promoter']
                        WHEN r.cp IS NOT NULL THEN ARRAY['advocate', 'referral']
                        ELSE ARRAY['active', 'recent_deal']
                      END AS decision
                      FROM kpi_tmp_cps cps
                      JOIN res_company co ON co.id = cps.company_id
                      LEFT JOIN agg a ON a.cp = cps.id
                      LEFT JOIN open o ON o.cp = cps.id
                      LEFT JOIN referrers r ON r.cp = cps.id
                )
                SELECT partner_id, company_id, old_stage,
                       decision[1] AS stage, decision[2] AS reason
                  FROM classified
                 WHERE decision[1] IS DISTINCT FROM old_stage
                """,
                today=self.today,
                open_scope=self._scope(SQL("p.commercial_partner_id")),
                ref_scope=self._scope(SQL("rp.commercial_partner_id")),
            )
        )
        self.cr.execute("DROP TABLE kpi_tmp_cps")
        self.cr.execute(
            "CREATE INDEX ON kpi_tmp_stage (partner_id); ANALYZE kpi_tmp_stage"
        )
        self.cr.execute(
            SQL(
                """
                INSERT INTO crm_kpi_lifecycle_event (
                    partner_id, company_id, from_stage, to_stage, date, reason,
                    days_in_from_stage, create_uid, write_uid, create_date,
                    write_date)
                SELECT s.partner_id, s.company_id, s.old_stage, s.stage,
                       %(today)s, s.reason, %(today)s - last.day,
                       %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC',
                       now() AT TIME ZONE 'UTC'
                  FROM kpi_tmp_stage s
                  LEFT JOIN (SELECT e.partner_id, MAX(e.date) AS day
                               FROM crm_kpi_lifecycle_event e
                               JOIN kpi_tmp_stage st ON st.partner_id = e.partner_id
                              GROUP BY e.partner_id) last
                    ON last.partner_id = s.partner_id
                """,
                today=self.today,
                uid=self.env.uid,
            )
        )
        self.cr.execute(
            """
            UPDATE res_partner p SET lifecycle_stage = s.stage
              FROM kpi_tmp_stage s WHERE p.id = s.partner_id
            """
        )
        self.cr.execute("DROP TABLE kpi_tmp_stage")

    def refresh_rfm(self):
        """Quintiles (NTILE) of recency, frequency and monetary value among
        each company's customers with a won deal in the last 24 months."""
        since = self.today - relativedelta(months=24)
        self.cr.execute(
            SQL(
                """
                WITH agg AS (
                    SELECT company_id, cp, MAX(day) AS last_won,
                           COUNT(*) AS deals, SUM(revenue) AS revenue
                      FROM kpi_tmp_cust_won
                     WHERE day > %(since)s
                     GROUP BY company_id, cp
                ), scored AS (
                    SELECT *,
                           NTILE(5) OVER (PARTITION BY company_id
                                          ORDER BY last_won, cp) AS r,
                           NTILE(5) OVER (PARTITION BY company_id
                                          ORDER BY deals, cp) AS f,
                           NTILE(5) OVER (PARTITION BY company_id
                                          ORDER BY revenue, cp) AS m
                      FROM agg
                ), s AS (
                    SELECT DISTINCT ON (cp) cp, r, f, m
                      FROM scored ORDER BY cp, last_won DESC
                ), customers AS (
                    SELECT DISTINCT cp FROM kpi_tmp_cust_won
                ), target AS (
                    SELECT c.cp, s.r, s.f, s.m,
                           CASE WHEN s.cp IS NOT NULL
                                THEN s.r::text || s.f::text || s.m::text END
                               AS score,
                           CASE WHEN s.cp IS NULL THEN 'lost'
                                ELSE %(segment)s END AS segment
                      FROM customers c LEFT JOIN s ON s.cp = c.cp
                )
                UPDATE res_partner p
                   SET rfm_recency = t.r, rfm_frequency = t.f,
                       rfm_monetary = t.m, rfm_score = t.score,
                       rfm_segment = t.segment
                  FROM res_partner c
                  LEFT JOIN target t ON t.cp = c.id
                 WHERE p.id = c.id AND c.id = c.commercial_partner_id
                   AND %(scope)s
                   AND (p.rfm_recency, p.rfm_frequency, p.rfm_monetary,
                        p.rfm_score, p.rfm_segment)
                       IS DISTINCT FROM (t.r, t.f, t.m, t.score, t.segment)
                """,
                since=since,
                segment=RFM_SEGMENT_SQL,
                scope=self._scope(SQL("c.id")),
            )
        )

    def refresh_forecast(self):
        """Next purchase = last won deal + the median interval between the
        customer's won deals (3 deals or more). Churn risk from how overdue
        the customer is against that rhythm (low up to 1x the interval,
        medium up to 1.5x, high beyond), raised to medium for customers at
        risk and by one level for a detractor; churned customers are high."""
        self.cr.execute(
            SQL(
                """
                WITH gaps AS (
                    SELECT cp, day,
                           day - LAG(day) OVER (PARTITION BY cp ORDER BY day) AS gap
                      FROM kpi_tmp_cust_won
                ), rhythm AS (
                    SELECT cp, MAX(day) AS last_won, COUNT(*) AS deals,
                           percentile_cont(0.5) WITHIN GROUP (ORDER BY gap)
                               FILTER (WHERE gap IS NOT NULL) AS median_gap
                      FROM gaps GROUP BY cp
                ), base AS (
                    SELECT r.cp,
                           CASE WHEN r.deals >= 3
                                THEN r.last_won + ROUND(r.median_gap)::int END
                               AS next_date,
                           CASE
                             WHEN p.lifecycle_stage = 'churned' THEN 3
                             WHEN r.deals < 3 THEN
                               CASE WHEN p.lifecycle_stage = 'at_risk'
                                    THEN 2 ELSE 1 END
                             ELSE GREATEST(
                               CASE WHEN %(today)s - r.last_won
                                         <= GREATEST(r.median_gap, 1) THEN 1
                                    WHEN %(today)s - r.last_won
                                         <= 1.5 * GREATEST(r.median_gap, 1) THEN 2
                                    ELSE 3 END,
                               CASE WHEN p.lifecycle_stage = 'at_risk'
                                    THEN 2 ELSE 1 END)
                           END
                           + CASE WHEN p.nps_category = 'detractor'
                                   AND p.lifecycle_stage <> 'churned'
                                  THEN 1 ELSE 0 END AS level
                      FROM rhythm r JOIN res_partner p ON p.id = r.cp
                ), target AS (
                    SELECT cp, next_date,
                           (ARRAY['low', 'medium', 'high'])[LEAST(level, 3)]
                               AS risk
                      FROM base
                )
                UPDATE res_partner p
                   SET next_purchase_date = t.next_date, churn_risk = t.risk
                  FROM res_partner c
                  LEFT JOIN target t ON t.cp = c.id
                 WHERE p.id = c.id AND c.id = c.commercial_partner_id
                   AND %(scope)s
                   AND (p.next_purchase_date, p.churn_risk)
                       IS DISTINCT FROM (t.next_date, t.risk)
                """,
                today=self.today,
                scope=self._scope(SQL("c.id")),
            )
        )

    def copy_to_contacts(self):
        columns = SQL(", ").join(SQL.identifier(f) for f in COPIED_TO_CONTACTS)
        source = SQL(", ").join(SQL.identifier("cp", f) for f in COPIED_TO_CONTACTS)
        target = SQL(", ").join(SQL.identifier("c", f) for f in COPIED_TO_CONTACTS)
        self.cr.execute(
            SQL(
                """
                UPDATE res_partner c SET (%(columns)s) = (%(source)s)
                  FROM res_partner cp
                 WHERE c.commercial_partner_id = cp.id AND c.id <> cp.id
                   AND %(scope)s
                   AND (%(target)s) IS DISTINCT FROM (%(source)s)
                """,
                columns=columns,
                source=source,
                target=target,
                scope=self._scope(SQL("cp.id")),
            )
        )
