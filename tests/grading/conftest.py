"""Fixtures for the grading tests: the real catalogue and the assay builder."""

from __future__ import annotations

import pytest
from grading_data import make_assay

from grading.catalogue import Catalogue, load_catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def assay():
    return make_assay
