"""
Render: a CycleGAN that translates synthesized checkout scenes (domain A) toward the style of
the target images (domain B: light, shadows, sensor noise), trained unpaired on images only.

``networks`` (generator, discriminator), ``losses`` (LSGAN, cycle, identity), ``image_pool``,
``model`` (settings, the four networks, the losses of a step), ``checkpoint`` (Detectron2's
checkpointer with the settings in each file), ``domains`` (image lists and training crops),
``train`` (the trainer: Detectron2's ``TrainerBase``, hooks and writers), ``render`` (applying
A -> B to an offline set, boxes unchanged) and ``domain_gap`` (how far two image domains are
apart). Command line: ``tools/prepare_rpc.py train-render`` / ``render``.
"""
from .checkpoint import RenderCheckpointError, RenderCheckpointer, load_model, load_renderer
from .domain_gap import classifier_accuracy, colour_w2
from .domains import DomainError, list_domain_images
from .model import CycleGAN, CycleGANConfig
from .networks import PatchDiscriminator, ResnetGenerator
from .render import render_offline_set, translate_batch
from .train import CycleGANTrainer, train_cyclegan

__all__ = [
    "CycleGAN", "CycleGANConfig", "CycleGANTrainer", "DomainError", "PatchDiscriminator",
    "RenderCheckpointError", "RenderCheckpointer", "ResnetGenerator", "classifier_accuracy",
    "colour_w2", "list_domain_images", "load_model", "load_renderer", "render_offline_set",
    "train_cyclegan", "translate_batch",
]  # fmt: skip
