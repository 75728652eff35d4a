"""add_embedding's files, read back without tensorboard: layout, merging, limits, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from google.protobuf import text_format
from hypothesis import given
from hypothesis import strategies as st

from eventwriter import SummaryWriter
from eventwriter.projector import escape_tag, format_matrix, format_metadata, merge_config
from eventwriter.proto.projector_config_pb2 import EmbeddingInfo, ProjectorConfig


def config_of(logdir):
    with open(os.path.join(logdir, "projector_config.pbtxt")) as handle:
        return text_format.Parse(handle.read(), ProjectorConfig())


def read(path, mode="r"):
    with open(path, mode) as handle:
        return handle.read()


def test_layout_and_config(logdir):
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(np.eye(3), metadata=["a", "b", "c"], global_step=12, tag="t")
    (entry,) = config_of(logdir).embeddings
    assert (entry.tensor_name, entry.tensor_path, entry.metadata_path) == (
        "t:00012", "00012/t/tensors.tsv", "00012/t/metadata.tsv",
    )  # fmt: skip
    one, zero = "+1.00000000e+00", "+0.00000000e+00"
    expected = f"{one}\t{zero}\t{zero}\n{zero}\t{one}\t{zero}\n{zero}\t{zero}\t{one}\n"
    assert read(os.path.join(logdir, "00012", "t", "tensors.tsv")) == expected
    assert read(os.path.join(logdir, "00012", "t", "metadata.tsv")) == "a\nb\nc\n"


@pytest.mark.parametrize(
    ("tag", "directory"), [("a/b", "a%2fb"), ("50%", "50%25"), ("c:\\x", "c:%5cx"), ("é ü", "é ü")]
)
def test_tag_escaping(tag, directory):
    assert escape_tag(tag) == directory


def parse_tsv(data):
    return np.array([[float(x) for x in line.split("\t")] for line in data.decode().splitlines()], dtype=np.float32)


def test_matrix_text_gives_float32_back_exactly():
    matrix = (np.random.default_rng(0).normal(size=(50, 7)) * 10.0 ** np.arange(-3, 4)).astype(np.float32)
    np.testing.assert_array_equal(parse_tsv(format_matrix(matrix)), matrix)


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=64))
def test_matrix_text_round_trips_any_float32(values):
    matrix = np.array(values, dtype=np.float32).reshape(1, -1)
    np.testing.assert_array_equal(parse_tsv(format_matrix(matrix)), matrix)


def test_matrix_text_at_the_edges_of_float32():
    info = np.finfo(np.float32)
    edges = [
        0.0,
        info.tiny,
        np.nextafter(np.float32(0), np.float32(1)),
        info.max,
        -info.max,
        1.0,
        10.0,
        999.99994,
        1e-5,
        9.9999997e-06,
    ]
    powers = [10.0**k for k in range(-44, 39)] + [
        np.nextafter(np.float32(10.0**k), np.float32(0)) for k in range(-37, 39)
    ]
    matrix = np.array(edges + powers, dtype=np.float32).reshape(-1, 1)
    np.testing.assert_array_equal(parse_tsv(format_matrix(matrix)), matrix)


def test_metadata_escapes_tabs_and_newlines_and_one_column_has_no_header():
    assert format_metadata(["a\tb", "c\nd", "e\\f"], None) == b"a\\tb\nc\\nd\ne\\\\f\n"
    assert format_metadata([["x", 1], ["y", 2]], ["name", "n"]) == b"name\tn\nx\t1\ny\t2\n"
    assert format_metadata([["x"], ["y"]], ["name"]) == b"x\ny\n"


def test_merge_replaces_an_entry_of_the_same_name_and_keeps_others():
    first = merge_config(None, EmbeddingInfo(tensor_name="a:00000", tensor_path="00000/a/tensors.tsv"))
    second = merge_config(first, EmbeddingInfo(tensor_name="b:00000", tensor_path="00000/b/tensors.tsv"))
    third = merge_config(second, EmbeddingInfo(tensor_name="a:00000", tensor_path="00000/a/tensors.bytes"))
    config = text_format.Parse(third.decode(), ProjectorConfig())
    assert [(e.tensor_name, e.tensor_path) for e in config.embeddings] == [
        ("a:00000", "00000/a/tensors.bytes"), ("b:00000", "00000/b/tensors.tsv"),
    ]  # fmt: skip


def test_binary_tensor_file(logdir):
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(matrix, binary=True)
    (entry,) = config_of(logdir).embeddings
    assert entry.tensor_path == "00000/default/tensors.bytes" and list(entry.tensor_shape) == [4, 3]
    data = np.fromfile(os.path.join(logdir, entry.tensor_path), dtype="<f4").reshape(4, 3)
    np.testing.assert_array_equal(data, matrix.astype(np.float32))


@pytest.mark.slow
def test_oversized_sprite_is_scaled_down_with_a_warning(logdir):
    pytest.importorskip("PIL")
    thumbnails = np.zeros((100, 1, 1000, 1000), dtype=np.uint8)
    with SummaryWriter(logdir) as writer:
        with pytest.warns(UserWarning, match=r"'big': a sprite of 100 thumbnails of 1000x1000 would be 10000x10000"):
            writer.add_embedding(np.zeros((100, 2)), label_img=thumbnails, tag="big")
    (entry,) = config_of(logdir).embeddings
    assert list(entry.sprite.single_image_dim) == [819, 819]
    from PIL import Image

    with Image.open(os.path.join(logdir, entry.sprite.image_path)) as sprite:
        assert sprite.size == (8190, 8190)


def test_two_processes_adding_embeddings_at_once_keep_all_of_them(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, numpy as np
        from eventwriter import SummaryWriter
        with SummaryWriter({str(tmp_path)!r}) as writer:
            for step in range(15):
                writer.add_embedding(np.eye(3), tag=sys.argv[1], global_step=step)
        """
    )
    processes = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("left", "right")]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    names = sorted(e.tensor_name for e in config_of(str(tmp_path)).embeddings)
    assert names == sorted(f"{name}:{step:05d}" for name in ("left", "right") for step in range(15))


BAD = [
    ({"mat": np.zeros(4)}, ValueError, r"'default': mat must be 2-D \(points x dimensions\), got shape \(4,\)"),
    ({"mat": np.zeros((2, 2)), "metadata": ["a"]}, ValueError, r"metadata must have one entry per point \(2\), got 1"),
    ({"mat": np.zeros((2, 2)), "metadata": "ab"}, TypeError, r"metadata must be a list"),
    (
        {"mat": np.zeros((2, 2)), "metadata": [["a", 1], ["b"]], "metadata_header": ["x", "y"]},
        ValueError,
        r"metadata row 1 must have 2 columns to match metadata_header",
    ),
    (
        {"mat": np.zeros((2, 2)), "metadata": [["a", 1], ["b", 2]], "metadata_header": ["x"]},
        ValueError,
        r"metadata row 0 must have 1 columns",
    ),
    ({"mat": np.zeros((2, 2)), "label_img": np.zeros((3, 1, 4, 4))}, ValueError, r"label_img must be 2 images"),
    ({"mat": np.zeros((2, 2)), "label_img": np.zeros((2, 2, 4, 4))}, ValueError, r"N x C x H x W with C 1 or 3"),
    ({"mat": np.zeros((2, 2)), "label_img": np.zeros((2, 4))}, ValueError, r"label_img must be 2 images"),
    ({"mat": np.array([[1.0, np.nan]])}, ValueError, r"mat must be finite"),
    ({"mat": np.array([["a", "b"]])}, TypeError, r"'default': mat must hold real numbers, got dtype <U1"),
    ({"mat": np.zeros((0, 2))}, ValueError, r"'default': mat must not be empty"),
    (
        {"mat": np.zeros((2, 2)), "label_img": np.full((2, 1, 2, 2), "x")},
        TypeError,
        r"label_img must hold pixels \(real numbers\), got dtype <U1",
    ),
    ({"mat": np.zeros((2, 2)), "label_img": np.zeros((2, 1, 0, 2))}, ValueError, r"label_img must hold pixels, got"),
    ({"mat": np.zeros((2, 2)), "metadata_header": ["x"]}, ValueError, r"metadata_header needs metadata"),
    ({"mat": np.zeros((2, 2)), "tag": 5}, TypeError, r"tag must be a non-empty str, got int 5"),
    ({"mat": np.zeros((2, 2)), "tag": ".."}, ValueError, r"tag '..' cannot name a directory"),
    ({"mat": np.zeros((2, 2)), "global_step": 1.5}, ValueError, r"global_step must be an integer"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_changes_nothing_on_disk(logdir, kwargs, error, message):
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(np.ones((2, 2)), metadata=["kept", "too"], tag="kept")
        before = {path: read(os.path.join(root, path), "rb") for root, _, files in os.walk(logdir) for path in files}
        with pytest.raises(error, match=message):
            writer.add_embedding(**kwargs)
        after = {path: read(os.path.join(root, path), "rb") for root, _, files in os.walk(logdir) for path in files}
    assert before == after
    assert [e.tensor_name for e in config_of(logdir).embeddings] == ["kept:00000"]


def test_values_beyond_float32_are_refused(logdir):
    with (
        SummaryWriter(logdir) as writer,
        pytest.raises(ValueError, match=r"'default': mat holds values beyond float32"),
    ):
        writer.add_embedding(np.array([[1e39, 1.0]]))


def test_negative_zero_keeps_its_sign():
    text = format_matrix(np.array([[-0.0, 0.0]], dtype=np.float32)).decode()
    assert text == "-0.00000000e+00\t+0.00000000e+00\n"
