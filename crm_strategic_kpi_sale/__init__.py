from . import models
from . import populate
from . import wizard
