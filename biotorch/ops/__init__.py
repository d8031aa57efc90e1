"""Tensor operations, one module per family.

``biotorch`` re-exports the torch-level families (elementwise, reductions, shape, indexing,
linalg, creation, softmax); the nn-level ones (activations, conv, pooling, dropout, embedding,
normalization, attention, losses) are public through ``biotorch.nn.functional``, as in PyTorch.
Tensor methods dispatch to the names here.
"""

from biotorch.ops.activation import *
from biotorch.ops.attention import *
from biotorch.ops.conv import *
from biotorch.ops.conversion import *
from biotorch.ops.conversion import (
    cast,
    copy_from,
    full_like_from,
    normal_like,
    to_device,
    uniform_like,
)
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
