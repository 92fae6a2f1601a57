"""
Training goes on past an image that fails to decode: the set's files were checked before the
run (:func:`dpsnet_d2.engine.checks.check_datasets`: present, non-empty, readable header, stated
size, not truncated), so what is left is a file that breaks only when decoded (or that changed
since). Such a record is reported once per process and skipped; Detectron2's ``MapDataset``
draws another record in its place when a mapper returns None.
"""
import logging

from detectron2.data.detection_utils import SizeMismatchError

__all__ = ["SkipUnreadableImages"]

logger = logging.getLogger(__name__)

# What decoding a bad file raises: PIL's OSError / UnidentifiedImageError ("image file is
# truncated"), SyntaxError of some PIL plug-ins, Detectron2's size check.
DECODE_ERRORS = (OSError, SyntaxError, SizeMismatchError)


class SkipUnreadableImages:
    """
    A training mapper wrapper: ``mapper(record)``, or None (with one warning naming the file and
    its image_id) when the record's image cannot be decoded.
    """

    def __init__(self, mapper):
        self.mapper = mapper
        self._reported = set()

    def __call__(self, dataset_dict):
        try:
            return self.mapper(dataset_dict)
        except DECODE_ERRORS as e:
            name = dataset_dict.get("file_name")
            if name not in self._reported:
                self._reported.add(name)
                logger.warning(f"{name} (image_id {dataset_dict.get('image_id')}) cannot be "
                               f"decoded ({type(e).__name__}: {e}): skipped")
            return None
