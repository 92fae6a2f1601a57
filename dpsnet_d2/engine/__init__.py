from .checks import check_datasets, check_launch, check_run_inputs, check_weights
from .trainer import DPSNetTrainer
