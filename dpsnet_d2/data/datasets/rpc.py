"""
Registration of RPC-format datasets (Retail Product Checkout 2019, docs/method.md §1) with
Detectron2.

::

    register_rpc("datasets/retail_product_checkout")  # rpc_2019_{train,val,test}: reads nothing
    MetadataCatalog.get("rpc_2019_val").thing_classes  # the 200 names: reads only `categories`
    dicts = DatasetCatalog.get("rpc_2019_val")         # reads and checks the whole JSON

Registration reads no file. The category metadata (``thing_classes``,
``thing_dataset_id_to_contiguous_id``, ``supercategories``, ``thing_class_to_supercategory``) is
read from the file's ``categories`` list the first time one of them is asked for (milliseconds,
see :func:`load_rpc_categories`), so it is there before the dataset is loaded, as Detectron2's
trainer and evaluators expect. ``json_file``, ``image_root`` and ``evaluator_type = "rpc"`` are
set at registration. Image files are not checked at load (see ``load_rpc_json(check_files=...)``
and ``tools/check_rpc_dataset.py --check-files``).

When the file is missing or its categories are broken, the category fields behave as missing
metadata, as Detectron2's ``Metadata`` contract has it: ``meta.get(key, default)`` returns the
default, ``hasattr`` is False, ``as_dict()`` leaves them out, and a warning names the file (once
per dataset). Reading one directly (``meta.thing_classes``) raises the :class:`RPCFormatError` that
says what is wrong (an ``AttributeError`` too). The file is read again the next time one is asked
for, so a file written after registration is picked up.
"""
import functools
import logging
import os

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.catalog import Metadata

from .rpc_format import (
    BOX_TOLERANCE,
    RPC_LEVELS,
    RPC_SPLITS,
    RPC_SUPERCATEGORIES,
    RPCFormatError,
    image_folder,
    json_name,
    load_rpc_categories,
    load_rpc_json,
)

__all__ = [
    "BOX_TOLERANCE",
    "RPC_LEVELS",
    "RPC_SPLITS",
    "RPC_SUPERCATEGORIES",
    "RPCFormatError",
    "load_rpc_categories",
    "load_rpc_json",
    "register_rpc",
    "register_rpc_instances",
    "register_rpc_splits",
]

logger = logging.getLogger(__name__)

_CATEGORY_KEYS = frozenset(
    {
        "thing_classes",
        "thing_dataset_id_to_contiguous_id",
        "supercategories",
        "thing_class_to_supercategory",
    }
)


class _CategoriesUnavailable(RPCFormatError, AttributeError):
    """
    The category metadata of a registered dataset cannot be read from its file: an RPCFormatError
    (naming the file and the fault) that is also an AttributeError, so that ``Metadata.get`` and
    ``hasattr`` treat the fields as missing.
    """


class _RPCMetadata(Metadata):
    """
    Metadata of an RPC-format dataset whose category fields (``_CATEGORY_KEYS``) are read from
    ``self.json_file`` when first asked for. Everything else behaves as Detectron2's Metadata.
    """

    # keys of the lazy loading's state, kept out of as_dict()
    _STATE_KEYS = ("_categories_pending", "_categories_warned")

    def __getattr__(self, key):
        if key in _CATEGORY_KEYS and self.__dict__.pop("_categories_pending", False):
            try:
                self.set(**load_rpc_categories(self.json_file))
            except Exception as e:
                self.__dict__["_categories_pending"] = True
                if isinstance(e, RPCFormatError):
                    self._warn_once(e)
                    raise _CategoriesUnavailable(e.json_file, e.record, e.reason) from e
                raise
            return getattr(self, key)
        return super().__getattr__(key)

    def _warn_once(self, error):
        if not self.__dict__.get("_categories_warned", False):
            self.__dict__["_categories_warned"] = True
            logger.warning(
                f"Dataset {self.name!r} has no category metadata (thing_classes, ...) until its "
                f"file can be read: {error}"
            )

    def as_dict(self):
        if self.__dict__.get("_categories_pending", False):
            self.get("thing_classes")
        fields = super().as_dict()
        for key in self._STATE_KEYS:
            fields.pop(key, None)
        return fields


def register_rpc_instances(name, json_file, image_root, metadata=None):
    """
    Register a dataset in RPC format (dataset dicts and metadata as in docs/method.md §1.2 and
    §1.3) under ``name``, lazily: DatasetCatalog gets a function that calls :func:`load_rpc_json`.

    Registering a name again with the same ``json_file`` and ``image_root`` does nothing; with
    other paths it replaces the earlier registration (and its metadata), with a warning.

    Args:
        name (str): dataset name, e.g. "rpc_2019_val".
        json_file (str): the RPC-style annotation file (need not exist yet).
        image_root (str): the folder its ``file_name`` entries are relative to.
        metadata (dict or None): extra metadata fields to set (they may override
            ``evaluator_type``).
    """
    json_file, image_root = os.path.abspath(json_file), os.path.abspath(image_root)
    if name in DatasetCatalog.list():
        old = MetadataCatalog.get(name)
        if (old.get("json_file"), old.get("image_root")) == (json_file, image_root):
            return
        logger.warning(f"Dataset {name!r} was registered with other files; now {json_file}")
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    # Metadata set for the name before registration (not by an earlier registration) is kept.
    old = MetadataCatalog.pop(name, None)
    fields = {} if old is None or isinstance(old, _RPCMetadata) else dict(vars(old))
    meta = MetadataCatalog[name] = _RPCMetadata(**{**fields, "name": name})
    fields = {"json_file": json_file, "image_root": image_root, "evaluator_type": "rpc"}
    meta.set(**{**fields, **(metadata or {})})
    meta._categories_pending = True
    DatasetCatalog.register(name, functools.partial(load_rpc_json, json_file, image_root, name))


def register_rpc_splits(root, name_format):
    """
    Register the three splits of a folder in the official RPC layout (docs/method.md §1.1).

    Args:
        root (str): the folder holding ``instances_{train,val,test}2019.json`` and
            ``{train,val,test}2019/``.
        name_format (str): dataset name with a ``{split}`` field, e.g. "rpc_2019_{split}".

    Returns:
        list[str]: the registered names, in RPC_SPLITS order.
    """
    names = []
    for split in RPC_SPLITS:
        name = name_format.format(split=split)
        json_file = os.path.join(root, json_name(split))
        register_rpc_instances(name, json_file, os.path.join(root, image_folder(split)))
        names.append(name)
    return names


def register_rpc(root):
    """
    Register the real RPC dataset at ``root`` (normally
    ``$DETECTRON2_DATASETS/retail_product_checkout``) as ``rpc_2019_train`` (single-product
    images), ``rpc_2019_val`` and ``rpc_2019_test`` (checkout images with levels).

    Returns:
        list[str]: the registered names.
    """
    return register_rpc_splits(root, "rpc_2019_{split}")
