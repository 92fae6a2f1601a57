"""Fixtures of the data tests."""
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog


@pytest.fixture
def restore_catalogs():
    """The test may register names; put both catalogs back as they were afterwards."""
    datasets, metadata = dict(DatasetCatalog), dict(MetadataCatalog)
    yield
    DatasetCatalog.clear()
    DatasetCatalog.update(datasets)
    MetadataCatalog.clear()
    MetadataCatalog.update(metadata)
