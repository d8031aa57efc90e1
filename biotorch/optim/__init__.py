"""``biotorch.optim``: optimizers and learning-rate schedulers, as ``torch.optim``."""

from biotorch.optim import lr_scheduler
from biotorch.optim.optimizer import Optimizer
from biotorch.optim.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
