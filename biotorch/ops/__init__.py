"""Tensor operations, one module per family; ``biotorch`` re-exports the public names."""

from biotorch.ops.activation import *
from biotorch.ops.attention import *
from biotorch.ops.conv import *
from biotorch.ops.conversion import *
from biotorch.ops.creation import *
from biotorch.ops.dropout import *
from biotorch.ops.elementwise import *
from biotorch.ops.embedding import *
from biotorch.ops.indexing import *
from biotorch.ops.linalg import *
from biotorch.ops.loss import *
from biotorch.ops.normalization import *
from biotorch.ops.pooling import *
from biotorch.ops.reduction import *
from biotorch.ops.shape import *
from biotorch.ops.softmax import *
