import pytest


@pytest.fixture
def logdir(tmp_path):
    """A log dir path that does not exist yet."""
    return str(tmp_path / "logs")


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/goldens/*.pbtxt from what the writer writes now (test_goldens.py)",
    )
