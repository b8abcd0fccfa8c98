"""What the fact table's missing foreign keys would do, done by the ORM.

``crm.kpi.value`` and its monthly totals ``crm.kpi.total`` have no database
foreign keys (see ``FactReference``): when a record a figure points to is
deleted, its figures are deleted or lose that dimension, as the reference
field's ``ondelete`` says.
"""

from odoo import models

from .crm_kpi_value import FactReference


class FactReferenceMixin(models.AbstractModel):
    _name = "crm.kpi.fact.reference.mixin"
    _description = "Records referenced by KPI facts"

    def unlink(self):
        if self.ids:
            for figures in (self.env["crm.kpi.value"], self.env["crm.kpi.total"]):
                for name, field in figures._fields.items():
                    if (
                        isinstance(field, FactReference)
                        and field.comodel_name == self._name
                    ):
                        figures._forget_references(name, self.ids, field.ondelete)
        return super().unlink()


class CrmKpi(models.Model):
    _name = "crm.kpi"
    _inherit = ["crm.kpi", "crm.kpi.fact.reference.mixin"]


class ResCompany(models.Model):
    _name = "res.company"
    _inherit = ["res.company", "crm.kpi.fact.reference.mixin"]


class CrmTeam(models.Model):
    _name = "crm.team"
    _inherit = ["crm.team", "crm.kpi.fact.reference.mixin"]


class ResUsers(models.Model):
    _name = "res.users"
    _inherit = ["res.users", "crm.kpi.fact.reference.mixin"]


class CrmKpiSegment(models.Model):
    _name = "crm.kpi.segment"
    _inherit = ["crm.kpi.segment", "crm.kpi.fact.reference.mixin"]


class UtmCampaign(models.Model):
    _name = "utm.campaign"
    _inherit = ["utm.campaign", "crm.kpi.fact.reference.mixin"]


class UtmSource(models.Model):
    _name = "utm.source"
    _inherit = ["utm.source", "crm.kpi.fact.reference.mixin"]


class UtmMedium(models.Model):
    _name = "utm.medium"
    _inherit = ["utm.medium", "crm.kpi.fact.reference.mixin"]


class ResCurrency(models.Model):
    _name = "res.currency"
    _inherit = ["res.currency", "crm.kpi.fact.reference.mixin"]
