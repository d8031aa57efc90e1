"""``biotorch.nn.functional``: neural-network functions, as ``torch.nn.functional``."""

from biotorch.ops.activation import *  # noqa: F403
from biotorch.ops.attention import *  # noqa: F403
from biotorch.ops.conv import *  # noqa: F403
from biotorch.ops.dropout import *  # noqa: F403
from biotorch.ops.embedding import *  # noqa: F403
from biotorch.ops.indexing import one_hot  # noqa: F401
from biotorch.ops.linalg import linear  # noqa: F401
from biotorch.ops.loss import *  # noqa: F403
from biotorch.ops.normalization import *  # noqa: F403
from biotorch.ops.pooling import *  # noqa: F403
from biotorch.ops.shape import pad  # noqa: F401
from biotorch.ops.softmax import *  # noqa: F403
