"""Loss definitions, one module per family; importing registers them."""
from . import regression  # noqa: F401  (first: the registry keeps this order)
from . import classification  # noqa: F401
from . import embedding  # noqa: F401
from . import generative  # noqa: F401
from . import segmentation  # noqa: F401
from . import combination  # noqa: F401
from . import glm  # noqa: F401
from . import metric  # noqa: F401
from . import lovasz  # noqa: F401
from . import boxes  # noqa: F401
