from . import crm_kpi_report_wizard
