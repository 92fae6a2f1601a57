"""DPSNet config nodes: ``add_dpsnet_config`` adds them; D2's global defaults stay as they are."""
import contextlib
import copy
import dataclasses
import functools
from typing import Any, Dict, Optional, Sequence

import yaml

from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg

from .utils.cli import UserError, check_input_file

__all__ = ["add_dpsnet_config", "config_defaults", "defaults_from_config", "get_dpsnet_cfg",
           "settings_from_node"]


def get_dpsnet_cfg(config_file: Optional[str] = None, opts: Sequence[str] = ()) -> CN:
    """
    A new config: Detectron2's defaults, DPSNet's nodes, then ``config_file`` (if given) and the
    ``KEY VALUE`` overrides ``opts``, in that order. Not frozen. Tools and tests build every
    config through here.

    Raises:
        UserError: naming ``config_file`` (or the overrides) when the file is missing or not
            YAML, or a key is unknown, or a value has the wrong type (Detectron2's KeyError /
            ValueError re-worded as one line).
    """
    cfg = get_cfg()
    add_dpsnet_config(cfg)
    if config_file:
        check_input_file(config_file, "config file")
        with _config_errors(f"config file {config_file}"):
            cfg.merge_from_file(config_file)
    if opts:
        opts = list(opts)
        with _config_errors(f"config overrides {' '.join(map(str, opts))}"):
            if len(opts) % 2:
                raise ValueError("expected KEY VALUE pairs, got an odd number of words")
            cfg.merge_from_list(opts)
    return cfg


@functools.lru_cache(maxsize=None)
def _default_cfg() -> CN:
    cfg = get_cfg()
    add_dpsnet_config(cfg)
    cfg.freeze()
    return cfg


def config_defaults(node: str) -> Dict[str, Any]:
    """
    The defaults of the config node ``node`` (e.g. ``"RENDER"``, ``"CUTOUTS.COARSE"``): its
    keys lower-cased, sub-nodes left out. The settings classes of the augmentation stages take
    their field defaults from here, so that this file is the one source of their defaults.
    """
    values = _default_cfg()
    for part in node.split("."):
        values = values[part]
    return {k.lower(): copy.deepcopy(v) for k, v in values.items() if not isinstance(v, CN)}


def defaults_from_config(node: str):
    """
    A class decorator, applied below ``@dataclass``: every annotated field without a default
    takes the default of its upper-cased key in config node ``node`` (so the config is the one
    source of the defaults of the settings classes that also exist outside a config).
    """

    def decorate(cls):
        defaults = config_defaults(node)
        for name in cls.__annotations__:
            if not hasattr(cls, name):
                if name not in defaults:
                    raise KeyError(f"{cls.__name__}.{name}: no key {name.upper()} in {node}")
                setattr(cls, name, defaults[name])
        return cls

    return decorate


def settings_from_node(cls, node: CN, **extra):
    """
    An instance of the dataclass ``cls`` whose fields take the values of the lower-cased keys of
    the config node ``node`` (keys that name no field, e.g. sub-nodes, are left out); ``extra``
    gives further fields (settings of the machine, not of the method, such as a device).
    """
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k.lower(): copy.deepcopy(v) for k, v in node.items() if k.lower() in names}
    return cls(**values, **extra)


@contextlib.contextmanager
def _config_errors(source):
    """Re-raise yacs' and YAML's errors of ``source`` as one-line UserErrors."""
    try:
        yield
    except OSError as e:
        raise UserError(f"{source}: cannot be read ({e.strerror or e})") from e
    except KeyError as e:  # yacs: "Non-existent config key: X"
        raise UserError(f"{source}: {e.args[0] if e.args else e}") from e
    except (ValueError, AssertionError, yaml.YAMLError) as e:
        raise UserError(f"{source}: {e}") from e
    except (AttributeError, TypeError) as e:  # YAML that is not a mapping of keys
        raise UserError(f"{source}: not a config of KEY: VALUE entries ({e})") from e


def add_dpsnet_config(cfg):
    """
    Add the config nodes of DPSNet to ``cfg`` (a ``get_cfg()`` copy), in place.

    Only new keys are added; no existing default is changed.
    """
    # ---------------------------------------------------------------------------------------- #
    # Data
    # ---------------------------------------------------------------------------------------- #
    # Which dataset mapper the trainer builds for training: "dpsnet" (images, boxes and
    # density targets built after augmentation), "synthesis" ("dpsnet" plus synthesized checkout
    # scenes, INPUT.SYNTHESIS) or "d2" (Detectron2's DatasetMapper, boxes only).
    cfg.INPUT.DATASET_MAPPER_NAME = "dpsnet"

    # ---------------------------------------------------------------------------------------- #
    # Checkout scene synthesis (mapper "synthesis"; put "synth_scenes" in DATASETS.TRAIN)
    # ---------------------------------------------------------------------------------------- #
    cfg.INPUT.SYNTHESIS = CN()
    # Folder of the cut-out store the scenes are pasted from (tools/prepare_rpc.py writes it).
    cfg.INPUT.SYNTHESIS.CUTOUT_STORE = ""
    # Weights of the levels easy, medium, hard (published counts per level; >= 0, not all 0).
    cfg.INPUT.SYNTHESIS.LEVEL_WEIGHTS = [1.0, 1.0, 1.0]
    # Uniform range of the cut-out scale for a scene of REFERENCE_SIZE pixels (published 0.4-0.7;
    # the default matches product sizes of the embedded set's checkout scenes, BENCHMARKS.md).
    cfg.INPUT.SYNTHESIS.SCALE_RANGE = [0.45, 0.75]
    # Scene side in pixels that SCALE_RANGE is given for (other scene sizes scale it along).
    cfg.INPUT.SYNTHESIS.REFERENCE_SIZE = 512
    # Side of the generated counter / short side of the background photos, in pixels.
    cfg.INPUT.SYNTHESIS.CANVAS_SIZE = 512
    # Placement rule: "mask" (every item keeps >= MIN_VISIBLE of its own pixels visible) or
    # "box_iou" (the published rule: a new item's box has IoU <= MAX_IOU with every earlier box).
    cfg.INPUT.SYNTHESIS.VISIBILITY_RULE = "mask"
    # Smallest visible fraction of an item (rule "mask"; with "box_iou", items hidden more are
    # left unannotated).
    cfg.INPUT.SYNTHESIS.MIN_VISIBLE = 0.5
    # Largest box IoU of a new item with an earlier one (rule "box_iou").
    cfg.INPUT.SYNTHESIS.MAX_IOU = 0.5
    # Folder of photos of the empty counter (as the paper pastes onto the real counter; the
    # embedded set writes them to synthetic_rpc/counters/); "" generates a plain counter per scene.
    cfg.INPUT.SYNTHESIS.BACKGROUND_DIR = ""
    # The checkout camera look on synthesized scenes (augment/checkout_camera.py): light field,
    # shadow edge, colour cast, gamma, blur, sensor noise and JPEG, drawn per scene.
    cfg.INPUT.SYNTHESIS.CAMERA = CN()
    # False: synthesized scenes keep the look of the pasted cut-outs.
    cfg.INPUT.SYNTHESIS.CAMERA.ENABLED = True
    # Probability that a synthesized scene gets a look (the others stay as pasted).
    cfg.INPUT.SYNTHESIS.CAMERA.PROB = 0.7
    # Fraction of training samples that are synthesized when DATASETS.TRAIN also holds ordinary
    # datasets (1: synthesized only).
    cfg.INPUT.SYNTHESIS.RATIO = 0.5
    # Synthesized records per epoch when "synth_scenes" is the only training dataset.
    cfg.INPUT.SYNTHESIS.EPOCH_SIZE = 1000
    # Seed of the scenes (scene k of seed s is always the same); < 0 uses cfg.SEED (0 if < 0).
    cfg.INPUT.SYNTHESIS.SEED = -1

    # ---------------------------------------------------------------------------------------- #
    # Cut-outs (tools/prepare_rpc.py masks / prune): background removal, pose pruning
    # ---------------------------------------------------------------------------------------- #
    cfg.CUTOUTS = CN()
    # Where the final masks come from: "saliency" (coarse masks refine a saliency network that
    # gives the final ones, the published method), "coarse" (the coarse masks) or "grabcut".
    cfg.CUTOUTS.METHOD = "saliency"
    # Pose pruning: a view of a SKU is kept when its mask area over the SKU's largest one is
    # above this (published 0.45).
    cfg.CUTOUTS.POSE_THETA = 0.45
    # How the store keeps a cut-out's pixels (augment/cutouts/store.py): "webp" (lossless, the
    # smallest), "png", or "raw" (uncompressed RGBA: ~5x the bytes of WebP, no decoding when
    # synthesis reads it; the RPC configs' choice, BENCHMARKS.md "The compact cut-out store").
    cfg.CUTOUTS.ENCODING = "webp"
    # Coarse masks by classical image processing (augment/cutouts/background_removal.py); lengths
    # are fractions of the crop's longer side.
    cfg.CUTOUTS.COARSE = CN()
    # Longer side of the crop, in pixels, at which everything is computed.
    cfg.CUTOUTS.COARSE.WORK_SIZE = 256
    # Margin around the box, as a fraction of the box's longer side, cropped with it.
    cfg.CUTOUTS.COARSE.MARGIN = 0.1
    # The Canny high threshold is this percentile of the crop's gradient magnitude ...
    cfg.CUTOUTS.COARSE.HIGH_PERCENTILE = 80.0
    # ... and the low threshold this fraction of the high one.
    cfg.CUTOUTS.COARSE.LOW_RATIO = 0.4
    # Closing kernel (joins gaps in the outline).
    cfg.CUTOUTS.COARSE.CLOSE_SIZE = 0.04
    # Opening kernel (removes thin lines after the holes are filled).
    cfg.CUTOUTS.COARSE.OPEN_SIZE = 0.03
    # Components smaller than this fraction of the largest one are dropped.
    cfg.CUTOUTS.COARSE.KEEP_FRACTION = 0.2
    # Regions between edges whose mean Lab colour is at least this far from every background
    # colour (sampled in the margin around the box) are product.
    cfg.CUTOUTS.COARSE.COLOUR_DISTANCE = 8.0
    # Median filter aperture (smooths the outline), odd, in working pixels.
    cfg.CUTOUTS.COARSE.MEDIAN_SIZE = 7
    # The saliency network that refines the coarse masks (augment/cutouts/saliency.py).
    cfg.CUTOUTS.SALIENCY = CN()
    # Coarse masks at least this confident (box IoU) are its training targets.
    cfg.CUTOUTS.SALIENCY.MIN_CONFIDENCE = 0.9
    # Side of the network's square input crop, in pixels.
    cfg.CUTOUTS.SALIENCY.INPUT_SIZE = 128
    # Margin around the box in the input crop, as a fraction of the box's longer side.
    cfg.CUTOUTS.SALIENCY.MARGIN = 0.1
    # Training steps.
    cfg.CUTOUTS.SALIENCY.STEPS = 200
    # Crops per training step.
    cfg.CUTOUTS.SALIENCY.BATCH_SIZE = 8
    # At most this many training crops (drawn at random from the confident ones).
    cfg.CUTOUTS.SALIENCY.MAX_TRAIN = 1024
    # Seed of the crop draw, the initialisation and the training batches.
    cfg.CUTOUTS.SALIENCY.SEED = 0

    # ---------------------------------------------------------------------------------------- #
    # Render: the CycleGAN from synthesized scenes (A) to target images (B)
    # (tools/prepare_rpc.py train-render / render; published values unless said otherwise)
    # ---------------------------------------------------------------------------------------- #
    cfg.RENDER = CN()
    # Side of the square training crops, in pixels (a multiple of 4, >= 32).
    cfg.RENDER.IMAGE_SIZE = 256
    # Images are resized to this longer side before cropping (>= IMAGE_SIZE); "render"
    # translates at the same scale, then resizes back.
    cfg.RENDER.LOAD_SIZE = 286
    # Generator residual blocks; 0: 6 when IMAGE_SIZE <= 256, else 9.
    cfg.RENDER.NUM_BLOCKS = 0
    # First-layer width of the generators.
    cfg.RENDER.GEN_CHANNELS = 64
    # First-layer width of the discriminators.
    cfg.RENDER.DISC_CHANNELS = 64
    # Weight of the cycle-consistency terms.
    cfg.RENDER.LAMBDA_CYCLE = 10.0
    # Weight of the identity terms, relative to LAMBDA_CYCLE.
    cfg.RENDER.LAMBDA_IDENTITY = 0.5
    # Generated images kept for the discriminators.
    cfg.RENDER.POOL_SIZE = 50
    # Adam learning rate of both network groups ...
    cfg.RENDER.LR = 2e-4
    # ... and its beta1.
    cfg.RENDER.BETA1 = 0.5
    # Optimisation steps in all (not published: the paper trains 200 epochs of domain A).
    cfg.RENDER.MAX_ITER = 1000
    # Step from which the learning rate decays linearly to 0 at MAX_ITER; -1: MAX_ITER // 2.
    cfg.RENDER.DECAY_START = -1
    # Images per domain and step (at most the smaller domain's image count).
    cfg.RENDER.BATCH_SIZE = 1
    # Seed of the initialisation, the crops and the image pools.
    cfg.RENDER.SEED = 0
    # Steps between checkpoints (0: only at the end).
    cfg.RENDER.CHECKPOINT_PERIOD = 200
    # Steps between picture grids of translated samples (0: only at the end).
    cfg.RENDER.SAMPLE_PERIOD = 100
    # Steps between log lines (0: only at the end).
    cfg.RENDER.LOG_PERIOD = 20
    # Applying the trained A -> B generator to an offline set (prepare_rpc.py render).
    cfg.RENDER.APPLY = CN()
    # Longer side the generator runs at, in pixels; 0: the training LOAD_SIZE.
    cfg.RENDER.APPLY.SIZE = 0
    # Images per forward pass.
    cfg.RENDER.APPLY.BATCH_SIZE = 4

    # ---------------------------------------------------------------------------------------- #
    # Bidirectional pyramid fusion neck (on top of a ResNet-FPN backbone)
    # ---------------------------------------------------------------------------------------- #
    cfg.MODEL.BIPYRAMID = CN()
    # False: the neck passes the FPN levels through unchanged (the "plain FPN" ablation); the
    # counting view then reads the FPN level at COUNT_STRIDE.
    cfg.MODEL.BIPYRAMID.FUSION_ON = True
    # Contiguous FPN levels refined by the top-down and bottom-up fusion; the others pass through
    # and only feed their neighbours (P2 also feeds P3; a fusion block at P2 costs 4x one at P3).
    cfg.MODEL.BIPYRAMID.IN_FEATURES = ["p3", "p4", "p5", "p6"]
    # Hidden channels of every fusion block (1x1 conv FPN channels -> FUSE_DIM, 3x3 back).
    cfg.MODEL.BIPYRAMID.FUSE_DIM = 32
    # Normalization of the fusion convolutions: "" (none), "GN", "BN", "SyncBN", "FrozenBN".
    cfg.MODEL.BIPYRAMID.NORM = ""
    # Stride of the fused map that feeds the counting view (published: P3, stride 8); it also
    # sets the stride of the ground-truth density maps the dataset mapper builds.
    cfg.MODEL.BIPYRAMID.COUNT_STRIDE = 8

    # ---------------------------------------------------------------------------------------- #
    # Counting view: density head
    # ---------------------------------------------------------------------------------------- #
    cfg.MODEL.DENSITY_HEAD = CN()
    # False: no counting view, DPSNet is Faster R-CNN on the BiPyramid neck; add
    # MODEL.BIPYRAMID.FUSION_ON False for the plain FPN baseline.
    cfg.MODEL.DENSITY_HEAD.ENABLED = True
    # Name of the head in DENSITY_HEAD_REGISTRY.
    cfg.MODEL.DENSITY_HEAD.NAME = "StandardDensityHead"
    # Name of the backbone feature the head reads ("count" is the neck's fused stride-8 map).
    cfg.MODEL.DENSITY_HEAD.IN_FEATURE = "count"
    # How classes map to density channels: "agnostic" (C = 1, published default),
    # "supercategory" (C = number of super-categories of the training metadata) or
    # "category" (C = MODEL.ROI_HEADS.NUM_CLASSES).
    cfg.MODEL.DENSITY_HEAD.CHANNEL_MODE = "agnostic"
    # Channels of the head's hidden 3x3 convolution.
    cfg.MODEL.DENSITY_HEAD.CONV_DIM = 64
    # Normalization after the hidden convolution: "" (none), "GN", "BN", "SyncBN".
    cfg.MODEL.DENSITY_HEAD.NORM = "GN"
    # Weight of loss_density in the total loss.
    cfg.MODEL.DENSITY_HEAD.LOSS_WEIGHT = 1.0
    # Learning-rate multiplier of the density head's parameters (published: much smaller than
    # the rest of the network). It applies to the density head only: the neck's counting fusion
    # (backbone.count_fusion) trains at the base LR.
    cfg.MODEL.DENSITY_HEAD.LR_MULTIPLIER = 0.1
    # Ground-truth density maps are multiplied by this constant before the L2 loss (each object
    # then integrates to TARGET_SCALE in the target; predicted counts are divided by it again).
    cfg.MODEL.DENSITY_HEAD.TARGET_SCALE = 100.0
    # Smallest Gaussian sigma, in density-map pixels (sigma = max(SIGMA_MIN, min(w, h)/2 * 5/12)).
    cfg.MODEL.DENSITY_HEAD.SIGMA_MIN = 1.0

    # ---------------------------------------------------------------------------------------- #
    # Evaluation
    # ---------------------------------------------------------------------------------------- #
    # Score threshold of the RPC evaluator's "fixed" mode (the deployable number); the "sweep"
    # mode (official protocol, an oracle per level) is reported beside it.
    cfg.TEST.RPC_SCORE_THRESH = 0.5
    # False: the RPC evaluator skips mAP50 / mmAP (COCO AP: its slowest part on 24k test images).
    cfg.TEST.RPC_COMPUTE_MAP = True

    # ---------------------------------------------------------------------------------------- #
    # Iterative knowledge distillation (tools/distill_net.py) and instance-level refinement
    # ---------------------------------------------------------------------------------------- #
    cfg.DISTILL = CN()
    # Registered datasets whose images are the unlabelled target domain; only their images and
    # categories are read, never their annotations.
    cfg.DISTILL.TARGET_DATASETS = ()
    # Number of distillation rounds (each: predict targets, check, pseudo-label, train).
    cfg.DISTILL.ROUNDS = 3
    # Iterations on the source data alone before the first round (0: start from MODEL.WEIGHTS).
    cfg.DISTILL.SOURCE_ITERS = 0
    # Training iterations of every round.
    cfg.DISTILL.ITERS_PER_ROUND = 1000
    # Constant learning rate of the rounds and the refinement (published fine-tuning: 0.001);
    # the source phase follows SOLVER.BASE_LR, STEPS and warm-up.
    cfg.DISTILL.BASE_LR = 0.001
    # Consistency threshold tau of round r: THRESHOLDS[r], the last entry for later rounds
    # (published: 0.80 for rounds 0-4, 0.85 for 5-7, 0.90 for 8, 0.95 after).
    cfg.DISTILL.THRESHOLDS = (0.8, 0.8, 0.8, 0.8, 0.8, 0.85, 0.85, 0.85, 0.9, 0.95)
    # How tau is chosen each round: "schedule" (THRESHOLDS, the published schedule) or
    # "calibrated" (the tau at which pseudo boxes reach CALIBRATION.PRECISION on labelled
    # synthesized source scenes never trained on; never from target labels; THRESHOLDS is the
    # fallback when no tau reaches it).
    cfg.DISTILL.THRESHOLD_MODE = "schedule"
    # The calibrated mode's labelled source scenes and its precision target.
    cfg.DISTILL.CALIBRATION = CN()
    # Synthesized calibration scenes (a seed of their own; needs a cut-out store in
    # INPUT.SYNTHESIS.CUTOUT_STORE).
    cfg.DISTILL.CALIBRATION.SCENES = 100
    # Pseudo-box precision (class-aware, IoU 0.5) the calibrated tau must reach on them.
    cfg.DISTILL.CALIBRATION.PRECISION = 0.95
    # An image with fewer detections above tau is never consistent (0: no minimum; the
    # published DPNet code keeps an image only with >= 3 confident boxes).
    cfg.DISTILL.MIN_BOXES = 3
    # Class-agnostic NMS IoU applied to the detections before they are counted (a product
    # detected as two similar SKUs counts once); 0: off (per-class NMS only, as evaluated).
    cfg.DISTILL.AGNOSTIC_NMS_IOU = 0.0
    # True: each round trains on every image pseudo-labelled so far (an image selected again
    # takes the newer labels); False: on this round's selection only.
    cfg.DISTILL.ACCUMULATE = True
    # Fraction of every training batch taken from the pseudo-labelled target images (the rest
    # from the source data of DATASETS.TRAIN through INPUT.DATASET_MAPPER_NAME's mapper).
    cfg.DISTILL.TARGET_RATIO = 0.5
    # Images per forward pass when predicting the target images (per process, one size each).
    cfg.DISTILL.PREDICT_BATCH_SIZE = 1
    # Labelled datasets evaluated after every round (never a target dataset); empty: none.
    cfg.DISTILL.EVAL_DATASETS = ()
    cfg.DISTILL.REFINE = CN()
    # Run the instance-level refinement stage after the last round.
    cfg.DISTILL.REFINE.ENABLED = True
    # Training iterations of the refinement stage.
    cfg.DISTILL.REFINE.ITERS = 500
    # In images that failed the check, detections above this score become labels (published 0.95).
    cfg.DISTILL.REFINE.SCORE_THRESH = 0.95
    # ... and detections scoring from this value up to SCORE_THRESH are painted out in grey.
    cfg.DISTILL.REFINE.PAINT_MIN_SCORE = 0.05

    # ---------------------------------------------------------------------------------------- #
    # In-domain backbone pre-training (tools/pretrain_backbone.py): the ResNet of MODEL.RESNETS
    # trained as a product classifier on cut-outs of INPUT.SYNTHESIS.CUTOUT_STORE pasted on the
    # counter photos of INPUT.SYNTHESIS.BACKGROUND_DIR; its weights then go to MODEL.WEIGHTS
    # ---------------------------------------------------------------------------------------- #
    cfg.PRETRAIN = CN()
    # Side of the square crops, in pixels (one product each).
    cfg.PRETRAIN.CROP_SIZE = 128
    # Uniform range of the product's longer side as a fraction of CROP_SIZE (the default puts
    # products at about the size the detector sees them in synthesized scenes).
    cfg.PRETRAIN.FILL_RANGE = [0.4, 0.8]
    # Crops per training step.
    cfg.PRETRAIN.IMS_PER_BATCH = 32
    # Training steps.
    cfg.PRETRAIN.MAX_ITER = 2000
    # Peak learning rate of SGD (SOLVER.MOMENTUM, WEIGHT_DECAY), linear warm-up then cosine decay.
    cfg.PRETRAIN.BASE_LR = 0.05
    # Iterations of the linear warm-up.
    cfg.PRETRAIN.WARMUP_ITERS = 100
    # A checkpoint (classifier and backbone file) every this many iterations (and at the end).
    cfg.PRETRAIN.CHECKPOINT_PERIOD = 500
