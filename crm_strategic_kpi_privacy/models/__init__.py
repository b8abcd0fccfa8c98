from . import crm_kpi_privacy
