from .distill_hook import DistillationHook
from .distill_trainer import DistillTrainer, validate_distill_config
from .trainer import DPSNetTrainer
