from . import test_populate
from . import test_kpi_engine
