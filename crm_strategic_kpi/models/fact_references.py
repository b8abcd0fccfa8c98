"""What the fact table's missing foreign keys would do, done by the ORM.

``crm.kpi.value`` has no database foreign keys (see ``FactReference``): when
a record a fact points to is deleted, its facts are deleted (KPI, company) or
lose that dimension (the other references), as ``ondelete`` would have done.
"""

from odoo import models


class FactReferenceMixin(models.AbstractModel):
    _name = "crm.kpi.fact.reference.mixin"
    _description = "Records referenced by KPI facts"

    # field of crm.kpi.value pointing to this model, and what a deletion does
    _kpi_fact_field = None
    _kpi_fact_ondelete = "set null"

    def unlink(self):
        if self.ids and self._kpi_fact_field:
            self.env["crm.kpi.value"]._forget_references(
                self._kpi_fact_field, self.ids, self._kpi_fact_ondelete
            )
        return super().unlink()


class CrmKpi(models.Model):
    _name = "crm.kpi"
    _inherit = ["crm.kpi", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "kpi_id"
    _kpi_fact_ondelete = "cascade"


class ResCompany(models.Model):
    _name = "res.company"
    _inherit = ["res.company", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "company_id"
    _kpi_fact_ondelete = "cascade"


class CrmTeam(models.Model):
    _name = "crm.team"
    _inherit = ["crm.team", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "team_id"


class ResUsers(models.Model):
    _name = "res.users"
    _inherit = ["res.users", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "user_id"


class CrmKpiSegment(models.Model):
    _name = "crm.kpi.segment"
    _inherit = ["crm.kpi.segment", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "segment_id"


class UtmCampaign(models.Model):
    _name = "utm.campaign"
    _inherit = ["utm.campaign", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "campaign_id"


class UtmSource(models.Model):
    _name = "utm.source"
    _inherit = ["utm.source", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "source_id"


class UtmMedium(models.Model):
    _name = "utm.medium"
    _inherit = ["utm.medium", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "medium_id"


class ResCurrency(models.Model):
    _name = "res.currency"
    _inherit = ["res.currency", "crm.kpi.fact.reference.mixin"]
    _kpi_fact_field = "currency_id"
