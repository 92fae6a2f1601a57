"""
The settings of ``tools/prepare_rpc.py``'s sub-commands as config keys: every sub-command takes
``--config-file`` and trailing ``KEY VALUE`` overrides (as ``tools/train_net.py``), and its
setting flags are shortcuts that set one key each (a flag given explicitly wins over the config
and the overrides). One table, :data:`SHORTCUTS`, gives each flag its key, its argparse type and
its help; the same type checks the key's value when it comes from a config file or an override,
so a bad value stops with one line before any work.

    add_config_arguments(parser, "masks")             # --config-file and the shortcut flags
    args, extras = parser.parse_known_args(argv)
    args.opts = config_overrides(parser, extras)      # KEY VALUE pairs; unknown options refused
    cfg = config_from_args(args, "masks")             # defaults, file, overrides, flags; checked
"""
import argparse
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import torch

from ..config import get_dpsnet_cfg
from ..utils.cli import UserError, float_in, int_at_least
from .cutouts.prepare_cutouts import STORE_DIR
from .cutouts.store import ENCODINGS
from .cutouts.settings import METHODS
from .synthesis.compose import RULES

__all__ = ["SHORTCUTS", "Shortcut", "add_config_arguments", "config_from_args",
           "config_overrides", "cutouts_output", "device_type"]  # fmt: skip


def device_type(name: str) -> str:
    """An argparse ``type`` for ``--device``: cpu, or cuda[:k] when CUDA is available."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{name}, but no CUDA device is available")
    return name


class Shortcut(NamedTuple):
    """A flag that sets the config key ``key``; ``type`` (an argparse type) also checks the
    key's value from a config; ``check``: another check of that value (e.g. a wider range)."""

    flag: str
    key: str
    help: str
    type: Optional[Callable[[str], Any]] = None
    nargs: Optional[int] = None
    metavar: Any = None
    choices: Optional[Sequence[str]] = None
    check: Optional[Callable[[str], Any]] = None


_S, _R = "INPUT.SYNTHESIS.", "RENDER."
_COUNT, _STEPS = int_at_least(1), int_at_least(0)
_PERIOD = "every N steps (0: only at the end)"
SHORTCUTS: Dict[str, List[Shortcut]] = {
    "masks": [
        Shortcut("--method", "CUTOUTS.METHOD", "final masks from", choices=METHODS),
        Shortcut("--min-confidence", "CUTOUTS.SALIENCY.MIN_CONFIDENCE",
                 "coarse masks at least this confident train the network", float_in(0.0, 1.0)),
        Shortcut("--steps", "CUTOUTS.SALIENCY.STEPS", "saliency training steps", _COUNT),
        Shortcut("--max-train", "CUTOUTS.SALIENCY.MAX_TRAIN", "at most this many training crops",
                 _COUNT),
    ],
    "prune": [Shortcut("--theta", "CUTOUTS.POSE_THETA", "keep views with R above this",
                       float_in(0.0, 1.0, high_open=True)),
              Shortcut("--encoding", "CUTOUTS.ENCODING", "how the store keeps pixels (raw: ~5x "
                       "the bytes, faster synthesis)", choices=sorted(ENCODINGS))],
    "synthesize": [
        Shortcut("--store", _S + "CUTOUT_STORE", "cut-out store folder"),
        Shortcut("--seed", _S + "SEED", "scene i comes from (seed, i); the config's -1: its SEED "
                 "(0 if < 0)", int_at_least(0), check=int_at_least(-1)),
        Shortcut("--size", _S + "CANVAS_SIZE", "scene side (pixels)", int_at_least(32)),
        Shortcut("--level-weights", _S + "LEVEL_WEIGHTS", "weights of the levels", float, 3,
                 ("EASY", "MEDIUM", "HARD")),
        Shortcut("--scale-range", _S + "SCALE_RANGE", "cut-out scale range", float, 2,
                 ("LO", "HI")),
        Shortcut("--reference-size", _S + "REFERENCE_SIZE", "scene side the scale range is "
                 "given for", _COUNT),
        Shortcut("--rule", _S + "VISIBILITY_RULE", "placement rule", choices=RULES),
        Shortcut("--min-visible", _S + "MIN_VISIBLE", "smallest visible fraction of an item",
                 float_in(0.0, 1.0)),
        Shortcut("--max-iou", _S + "MAX_IOU", "largest box IoU with an earlier item (box_iou)",
                 float_in(0.0, 1.0)),
        Shortcut("--background-dir", _S + "BACKGROUND_DIR", "photos of the empty counter "
                 "(empty: generated counters)"),
    ],
    "train-render": [
        Shortcut("--image-size", _R + "IMAGE_SIZE", "training crop side (px); 6 residual "
                 "blocks up to 256, else 9", int_at_least(32)),
        Shortcut("--load-size", _R + "LOAD_SIZE", "images resized to this longer side before "
                 "cropping", int_at_least(32)),
        Shortcut("--num-blocks", _R + "NUM_BLOCKS", "generator residual blocks (0: by image "
                 "size)", _STEPS),
        Shortcut("--gen-channels", _R + "GEN_CHANNELS", "generator stem width", _COUNT),
        Shortcut("--disc-channels", _R + "DISC_CHANNELS", "discriminator first width", _COUNT),
        Shortcut("--lambda-cycle", _R + "LAMBDA_CYCLE", "cycle weight", float_in(0.0, 1e6)),
        Shortcut("--lambda-identity", _R + "LAMBDA_IDENTITY", "identity weight, relative to "
                 "--lambda-cycle", float_in(0.0, 1e6)),
        Shortcut("--pool-size", _R + "POOL_SIZE", "fakes kept for the discriminators", _STEPS),
        Shortcut("--lr", _R + "LR", "Adam learning rate", float_in(0.0, 1.0, low_open=True)),
        Shortcut("--beta1", _R + "BETA1", "Adam beta1", float_in(0.0, 1.0, high_open=True)),
        Shortcut("--max-iter", _R + "MAX_ITER", "optimisation steps in all", _COUNT),
        Shortcut("--decay-start", _R + "DECAY_START", "step where linear LR decay begins "
                 "(-1: max-iter/2)", int),
        Shortcut("--batch-size", _R + "BATCH_SIZE", "images per domain and step (at most the "
                 "smaller domain's count)", _COUNT),
        Shortcut("--seed", _R + "SEED", "seed of initialisation, crops and pools", _STEPS),
        Shortcut("--checkpoint-period", _R + "CHECKPOINT_PERIOD", "checkpoint " + _PERIOD,
                 _STEPS),
        Shortcut("--sample-period", _R + "SAMPLE_PERIOD", "sample grid " + _PERIOD, _STEPS),
        Shortcut("--log-period", _R + "LOG_PERIOD", "log line " + _PERIOD, _STEPS),
    ],
    "render": [
        Shortcut("--size", _R + "APPLY.SIZE", "longer side the generator runs at (0: the "
                 "training load size)", _STEPS),
        Shortcut("--batch-size", _R + "APPLY.BATCH_SIZE", "images per forward pass", _COUNT),
    ],
}


def _dest(shortcut: Shortcut) -> str:
    return "cfg_" + shortcut.flag.lstrip("-").replace("-", "_")


def _node_and_name(cfg, key: str):
    """(the config node holding ``key``, the key's last name)."""
    *path, name = key.split(".")
    node = cfg
    for part in path:
        node = node[part]
    return node, name


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def add_config_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """``--config-file`` and the shortcut flags of sub-command ``command`` (their help names
    the key and its default)."""
    defaults = get_dpsnet_cfg()
    parser.epilog = ("Trailing KEY VALUE pairs override the config (e.g. "
                     f"{SHORTCUTS[command][0].key} VALUE); a flag given wins over both.")
    parser.add_argument("--config-file", default="", metavar="FILE",
                        help="a config (e.g. configs/RPC/dpsnet_R_50_FPN.yaml) that gives the "
                        "settings; trailing KEY VALUE pairs override it, the flags both")
    for s in SHORTCUTS[command]:
        node, name = _node_and_name(defaults, s.key)
        parser.add_argument(s.flag, dest=_dest(s), type=s.type, nargs=s.nargs,
                            metavar=s.metavar or (None if s.choices else name),
                            choices=s.choices,
                            help=f"{s.help} ({s.key}; default {node[name]!r})")  # fmt: skip


def config_overrides(parser: argparse.ArgumentParser, extras: Sequence[str]) -> List[str]:
    """The trailing ``KEY VALUE`` words ``parse_known_args`` left; an unknown option among them
    is an argparse error (exit status 2)."""
    unknown = [w for w in extras if w.startswith("-") and not _is_number(w)]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return list(extras)


def _check(shortcut: Shortcut, value, source: str) -> None:
    """Raise a UserError naming ``source`` when ``value`` would not pass the flag's checks."""
    check = shortcut.check or shortcut.type
    values = list(value) if shortcut.nargs else [value]
    if shortcut.nargs and len(values) != shortcut.nargs:
        reason = f"expected {shortcut.nargs} values"
    elif shortcut.choices and value not in shortcut.choices:
        reason = f"choose one of {', '.join(shortcut.choices)}"
    else:
        try:
            for v in values:
                if check is not None:
                    check(str(v))
            return
        except (argparse.ArgumentTypeError, ValueError) as e:
            reason = str(e)
    raise UserError(f"{source}: {shortcut.key} {value!r}: {reason} (as {shortcut.flag})")


def config_from_args(args: argparse.Namespace, command: str):
    """
    The frozen config of a sub-command: DPSNet's defaults, ``args.config_file``, the overrides
    ``args.opts``, then every shortcut flag given; each shortcut key's value is checked as its
    flag would be. Raises UserError (one line naming the file or the override).
    """
    cfg = get_dpsnet_cfg(args.config_file, args.opts)
    overridden = set(args.opts[::2])
    for s in SHORTCUTS[command]:
        node, name = _node_and_name(cfg, s.key)
        value = getattr(args, _dest(s))
        if value is not None:
            node[name] = value
        elif s.key in overridden:
            _check(s, node[name], "config override")
        elif args.config_file:
            _check(s, node[name], f"config file {args.config_file}")
    cfg.freeze()
    return cfg


def cutouts_output(cfg, out: Optional[str], json_file: str) -> str:
    """
    The output folder of ``masks`` / ``prune``: ``out`` when given; else the folder holding
    ``INPUT.SYNTHESIS.CUTOUT_STORE`` when set (prune writes the store as ``<folder>/cutouts``,
    where the config's synthesis reads it); else the folder of the dataset's ``json_file``.
    """
    store = cfg.INPUT.SYNTHESIS.CUTOUT_STORE
    if out or not store:
        return out or os.path.dirname(os.path.abspath(json_file))
    if os.path.basename(os.path.normpath(store)) != STORE_DIR:
        raise UserError(f"INPUT.SYNTHESIS.CUTOUT_STORE {store}: prune writes the store as "
                        f"<folder>/{STORE_DIR}: name the store's folder {STORE_DIR!r} or give "
                        "--out")
    return os.path.dirname(os.path.abspath(store))
