from .trainer import DPSNetTrainer
