from . import res_company
from . import crm_kpi_run
from . import sale_order
from . import account_move
from . import res_partner
from . import crm_kpi
