"""
The DPSNet checkpointer: Detectron2's :class:`DetectionCheckpointer` that

* loads Detectron2 checkpoints (model zoo ``.pkl``, a stock ``GeneralizedRCNN``'s ``.pth``):
  DPSNet nests Detectron2's FPN inside its neck (``backbone.fpn.bottom_up.*``,
  ``backbone.fpn.fpn_lateral2.*``) where a stock ResNet-FPN has ``backbone.bottom_up.*``,
  ``backbone.fpn_lateral2.*``. A checkpoint key that the model lacks is renamed to the
  model's ``backbone.fpn.*`` key when that one exists (:func:`map_detectron2_keys`); keys the
  model has (checkpoints saved by this project) are never renamed. Caffe2 ``.pkl`` files
  (ImageNet backbones) keep Detectron2's own path: its C2 name conversion, then suffix matching.
* reports what it loaded (:class:`LoadReport`): tensors loaded / total, and the ones it skipped
  because their shape differs (e.g. an 80-class box predictor loaded into a 200-class model),
  the model's tensors the checkpoint lacks and the checkpoint's tensors nothing took.
* saves the class names of the model (``thing_classes``) into each checkpoint, so a trained
  model names its classes with no dataset registered (``tools/checkout.py``).
"""
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.checkpoint.c2_model_loading import align_and_update_state_dicts
from detectron2.data import MetadataCatalog
from fvcore.common.checkpoint import _strip_prefix_if_present

__all__ = [
    "DPSNetCheckpointer", "LoadReport", "THING_CLASSES_KEY", "dataset_thing_classes",
    "map_detectron2_keys",
]

logger = logging.getLogger(__name__)

# Key of the class names (list of str, index = contiguous class id) in a saved checkpoint.
THING_CLASSES_KEY = "thing_classes"

# DPSNet's neck holds Detectron2's FPN backbone under this name (modeling/neck/bipyramid.py).
_NESTED_FPN = "backbone.fpn."


def map_detectron2_keys(checkpoint_keys: Iterable[str], model_keys: Iterable[str]) -> Dict[str, str]:
    """
    The renames that make a Detectron2 ResNet-FPN checkpoint's keys DPSNet's.

    Args:
        checkpoint_keys: the keys of the checkpoint's model state.
        model_keys: the keys of the model's ``state_dict()``.
    Returns:
        {checkpoint key: model key} for each ``backbone.X`` the model lacks while it has
        ``backbone.fpn.X`` (and the checkpoint does not hold that key itself).
    """
    model_keys, checkpoint_keys = set(model_keys), list(checkpoint_keys)
    present = set(checkpoint_keys)
    renames = {}
    for key in checkpoint_keys:
        if key in model_keys or not key.startswith("backbone.") or key.startswith(_NESTED_FPN):
            continue
        target = _NESTED_FPN + key[len("backbone."):]
        if target in model_keys and target not in present:
            renames[key] = target
    return renames


@dataclass
class LoadReport:
    """
    What one ``load`` did to the model's state.

    Attributes:
        source: the loaded file.
        total: tensors in the model's ``state_dict()``.
        loaded: tensors that took the checkpoint's value.
        renamed: checkpoint keys renamed to DPSNet's names (count).
        skipped: (key, checkpoint shape, model shape) of tensors left as they were because
            their shape differs.
        missing: model keys the checkpoint does not hold (left as initialised).
        unexpected: checkpoint keys no model tensor took.
    """

    source: str
    total: int
    loaded: int
    renamed: int = 0
    skipped: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)

    @classmethod
    def compare(cls, source: str, checkpoint_state: dict, model_state: dict, renamed: int = 0):
        """The report of loading ``checkpoint_state`` (key -> tensor or array, model names) into
        a model whose state is ``model_state``."""
        skipped, loaded = [], 0
        for key, value in model_state.items():
            if key not in checkpoint_state:
                continue
            shape = tuple(checkpoint_state[key].shape)
            if shape == tuple(value.shape):
                loaded += 1
            else:
                skipped.append((key, shape, tuple(value.shape)))
        return cls(
            source=source, total=len(model_state), loaded=loaded, renamed=renamed,
            skipped=skipped,
            missing=[k for k in model_state if k not in checkpoint_state],
            unexpected=[k for k in checkpoint_state if k not in model_state],
        )

    def summary(self) -> str:
        """One line: loaded / total and the counts of the rest."""
        return (
            f"loaded {self.loaded} / {self.total} tensors from {self.source} "
            f"({self.renamed} renamed to DPSNet's names, {len(self.skipped)} skipped for their "
            f"shape, {len(self.missing)} not in the checkpoint, {len(self.unexpected)} unused)"
        )

    def lines(self) -> List[str]:
        """The summary, then one line per skipped tensor."""
        return [self.summary()] + [
            f"  skipped {key}: checkpoint {list(ckpt)} vs model {list(model)}"
            for key, ckpt, model in self.skipped
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


class DPSNetCheckpointer(DetectionCheckpointer):
    """
    DetectionCheckpointer with Detectron2 key mapping, a load report and class names; see the
    module docstring. After each ``load``, ``last_load_report`` holds its :class:`LoadReport`
    (None when nothing was loaded); ``load`` returns the checkpoint's other entries, among them
    ``"thing_classes"`` when the checkpoint holds class names.
    """

    def __init__(self, model, save_dir="", *, thing_classes: Optional[Sequence[str]] = None,
                 **kwargs):
        """
        Args:
            model, save_dir, kwargs: as :class:`DetectionCheckpointer` (checkpointables ...).
            thing_classes: class names saved into every checkpoint (None: none saved).
        """
        super().__init__(model, save_dir, **kwargs)
        self.thing_classes = list(thing_classes) if thing_classes else None
        self.last_load_report: Optional[LoadReport] = None
        self._source = ""

    def save(self, name: str, **kwargs) -> None:
        if self.thing_classes is not None:
            kwargs.setdefault(THING_CLASSES_KEY, self.thing_classes)
        super().save(name, **kwargs)

    def load(self, path, *args, **kwargs):
        self.last_load_report = None
        self._source = str(path)
        return super().load(path, *args, **kwargs)

    def _load_model(self, checkpoint):
        model_state = self.model.state_dict()
        state = dict(checkpoint["model"])
        _strip_prefix_if_present(state, "module.")
        renamed = 0
        if checkpoint.pop("matching_heuristics", False):
            # Detectron2's path for Caffe2 / pycls files: C2 name conversion, suffix matching
            self._convert_ndarray_to_tensor(state)
            state = align_and_update_state_dicts(
                model_state, state, c2_conversion=checkpoint.get("__author__") == "Caffe2"
            )
        else:
            renames = map_detectron2_keys(state, model_state)
            state = {renames.get(k, k): v for k, v in state.items()}
            renamed = len(renames)
        self.last_load_report = LoadReport.compare(self._source, state, model_state, renamed)
        checkpoint["model"] = state
        incompatible = super()._load_model(checkpoint)
        for line in self.last_load_report.lines():
            logger.info(line)
        return incompatible


def dataset_thing_classes(cfg) -> Optional[List[str]]:
    """
    The class names of the run: ``thing_classes`` of the first dataset of ``DATASETS.TRAIN``,
    then ``DATASETS.TEST``, whose metadata has one name per ``MODEL.ROI_HEADS.NUM_CLASSES``;
    None when none has.
    """
    for name in list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST):
        classes = MetadataCatalog.get(name).get("thing_classes", None)
        if classes is not None and len(classes) == cfg.MODEL.ROI_HEADS.NUM_CLASSES:
            return list(classes)
    return None
