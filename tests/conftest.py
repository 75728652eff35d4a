import pytest


@pytest.fixture
def logdir(tmp_path):
    """A log dir path that does not exist yet."""
    return str(tmp_path / "logs")
