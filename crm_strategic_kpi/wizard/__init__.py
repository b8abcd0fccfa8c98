from . import crm_kpi_report_wizard
from . import base_partner_merge
