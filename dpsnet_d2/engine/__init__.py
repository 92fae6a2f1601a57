from .checkpointer import DPSNetCheckpointer, LoadReport, dataset_thing_classes
from .checks import check_datasets, check_launch, check_run_inputs, check_weights
from .distill_hook import DistillationHook
from .distill_trainer import DistillTrainer, validate_distill_config
from .trainer import DPSNetTrainer
