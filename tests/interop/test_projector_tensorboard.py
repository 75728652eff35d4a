"""add_embedding against torch's files, and loaded by tensorboard's projector plugin."""

from __future__ import annotations

import io
import json
import math
import os

import numpy as np
import pytest
import torch
from google.protobuf import text_format
from PIL import Image
from tbread import accumulate, decode_blob, plugin_routes
from tensorboard.plugins.projector import projector_plugin
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

from eventwriter import SummaryWriter

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Shirt", "Sandal", "Sneaker", "Bag", "Ankle Boot"]


def config_of(logdir):
    with open(os.path.join(logdir, "projector_config.pbtxt")) as handle:
        return text_format.Parse(handle.read(), ProjectorConfig())


def tsv_matrix(path):
    with open(path) as handle:
        return np.array([[float(x) for x in line.rstrip("\n").split("\t")] for line in handle], dtype=np.float32)


def both(tmp_path, calls):
    dirs = []
    for name, cls in [("torch", TorchSummaryWriter), ("ours", SummaryWriter)]:
        logdir = str(tmp_path / name)
        with cls(logdir) as writer:
            calls(writer)
        dirs.append(logdir)
    return dirs


def scaled(thumbnails, float_type):
    """Non-uint8 pixels x255, clipped and truncated, computed in ``float_type``: float32 is
    torch's add_image (and eventwriter's sprites), float64 torch's sprites."""
    return (np.asarray(thumbnails).astype(float_type) * float_type(255)).clip(0, 255).astype(np.uint8)


def torch_sprite_layout(thumbnails):
    """N x C x H x W pixels as torch lays out a sprite: ceil(sqrt(N)) columns, H x W x 3."""
    if thumbnails.shape[1] == 1:
        thumbnails = np.repeat(thumbnails, 3, axis=1)
    count, _, height, width = thumbnails.shape
    columns = math.ceil(count**0.5)
    canvas = np.zeros((columns * height, columns * width, 3), dtype=thumbnails.dtype)
    for index, image in enumerate(thumbnails):
        row, column = divmod(index, columns)
        canvas[row * height : (row + 1) * height, column * width : (column + 1) * width] = image.transpose(1, 2, 0)
    return canvas


def assert_same_sprite(their_sprite, our_sprite, thumbnails):
    """Our sprite is torch's, pixel for pixel, except where torch's sprite rule (float64)
    and add_image's (float32, ours on purpose) give different levels: there one level apart."""
    assert their_sprite.shape == our_sprite.shape
    if thumbnails is None or np.asarray(thumbnails).dtype == np.uint8:
        np.testing.assert_array_equal(their_sprite, our_sprite)
        return
    rules_differ = torch_sprite_layout(scaled(thumbnails, np.float32)) != torch_sprite_layout(
        scaled(thumbnails, np.float64)
    )
    np.testing.assert_array_equal(our_sprite[~rules_differ], their_sprite[~rules_differ])
    np.testing.assert_array_equal(np.abs(our_sprite[rules_differ].astype(int) - their_sprite[rules_differ]), 1)


def assert_same_files(torch_dir, our_dir, thumbnails=None):
    """Same config, matrices and metadata; the same sprite (see assert_same_sprite) of
    ``thumbnails``, the label_img both were given."""
    theirs, ours = config_of(torch_dir), config_of(our_dir)
    assert theirs == ours
    for embedding in ours.embeddings:
        np.testing.assert_array_equal(
            tsv_matrix(os.path.join(torch_dir, embedding.tensor_path)),
            tsv_matrix(os.path.join(our_dir, embedding.tensor_path)),
        )
        if embedding.metadata_path:
            with (
                open(os.path.join(torch_dir, embedding.metadata_path), "rb") as a,
                open(os.path.join(our_dir, embedding.metadata_path), "rb") as b,
            ):
                assert a.read() == b.read()
        if embedding.sprite.image_path:
            their_sprite = np.asarray(Image.open(os.path.join(torch_dir, embedding.sprite.image_path)))
            our_sprite = np.asarray(Image.open(os.path.join(our_dir, embedding.sprite.image_path)))
            assert_same_sprite(their_sprite, our_sprite, thumbnails)


def test_tutorial_embedding_100_images_with_class_names(tmp_path):
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.random((100, 28, 28)).astype(np.float32))
    labels = rng.integers(0, 10, 100)

    def calls(writer):
        features = images.view(-1, 28 * 28)
        writer.add_embedding(features, metadata=[CLASSES[i] for i in labels], label_img=images.unsqueeze(1))

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_files(torch_dir, our_dir, images.unsqueeze(1))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"global_step": 7, "tag": "with/slash and %"},
        {"metadata": [f"p{i}" for i in range(30)]},
        {"metadata": [[f"p{i}", i % 3] for i in range(30)], "metadata_header": ["name", "group"]},
        {"label_img": torch.rand(30, 3, 8, 8)},
        {"label_img": torch.rand(30, 1, 5, 5), "global_step": 2},
    ],
    ids=["step_and_tag", "metadata", "columns", "rgb_sprite", "grey_sprite"],
)
def test_add_embedding_like_torch(tmp_path, kwargs):
    matrix = torch.randn(30, 5)
    torch_dir, our_dir = both(tmp_path, lambda w: w.add_embedding(matrix, **kwargs))
    assert_same_files(torch_dir, our_dir, kwargs.get("label_img"))


def test_several_embeddings_in_one_writer(tmp_path):
    def calls(writer):
        for step in range(3):
            writer.add_embedding(torch.randn(10, 4), metadata=list(range(10)), global_step=step)
        writer.add_embedding(torch.randn(10, 4), tag="other")

    torch.manual_seed(0)
    torch_dir = str(tmp_path / "torch")
    with TorchSummaryWriter(torch_dir) as writer:
        calls(writer)
    torch.manual_seed(0)
    our_dir = str(tmp_path / "ours")
    with SummaryWriter(our_dir) as writer:
        calls(writer)
    assert_same_files(torch_dir, our_dir)


# -- TensorBoard's projector plugin reads what we wrote --------------------------------


def projector(logdir):
    return plugin_routes(projector_plugin.ProjectorPlugin, logdir)


@pytest.mark.parametrize("binary", [False, True])
def test_projector_plugin_loads_tensors_metadata_and_sprite(tmp_path, binary):
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(40, 6)).astype(np.float32)
    thumbnails = (rng.random((40, 3, 6, 9)) * 255).astype(np.uint8)  # non-square, uint8
    logdir = str(tmp_path)
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("x", 1.0, 0)
        writer.add_embedding(matrix, [f"a\tb{i}" for i in range(40)], thumbnails, tag="emb", binary=binary)
    get = projector(logdir)
    assert json.loads(get("/runs")) == ["."]
    config = json.loads(get("/info", run="."))
    (embedding,) = config["embeddings"]
    assert embedding["tensorName"] == "emb:00000"
    assert embedding["sprite"]["singleImageDim"] == [9, 6]
    tensor = np.frombuffer(get("/tensor", run=".", name="emb:00000"), dtype=np.float32).reshape(40, 6)
    np.testing.assert_array_equal(tensor, matrix)
    metadata = get("/metadata", run=".", name="emb:00000").decode().splitlines()
    assert metadata[:2] == ["a\\tb0", "a\\tb1"] and len(metadata) == 40
    sprite = np.asarray(Image.open(io.BytesIO(get("/sprite_image", run=".", name="emb:00000"))))
    assert sprite.shape == (7 * 6, 7 * 9, 3)  # 7 columns of 9 x 6 thumbnails, 7 rows
    np.testing.assert_array_equal(sprite[6:12, 9:18], thumbnails[8].transpose(1, 2, 0))  # row 1, column 1


def test_difference_second_writer_keeps_the_embeddings_already_there(tmp_path):
    def two_sessions(cls, logdir):
        with cls(logdir) as writer:
            writer.add_embedding(torch.randn(5, 3), tag="first")
        with cls(logdir) as writer:  # a restarted process
            writer.add_embedding(torch.randn(5, 3), tag="second")
        return [e.tensor_name for e in config_of(logdir).embeddings]

    assert two_sessions(TorchSummaryWriter, str(tmp_path / "torch")) == ["second:00000"]  # torch erased "first"
    assert two_sessions(SummaryWriter, str(tmp_path / "ours")) == ["first:00000", "second:00000"]


def test_difference_same_tag_and_step_replaces_its_entry(tmp_path):
    def twice(cls, logdir):
        with cls(logdir) as writer:
            writer.add_embedding(torch.randn(5, 3), global_step=1)
            writer.add_embedding(torch.randn(5, 3), global_step=1)
        return [e.tensor_name for e in config_of(logdir).embeddings]

    assert twice(TorchSummaryWriter, str(tmp_path / "torch")) == ["default:00001", "default:00001"]
    assert twice(SummaryWriter, str(tmp_path / "ours")) == ["default:00001"]


def test_difference_numpy_label_img_and_uint8_thumbnails(tmp_path):
    thumbnails = np.full((4, 1, 3, 3), 200, dtype=np.uint8)
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        with pytest.raises((TypeError, AttributeError)):
            writer.add_embedding(np.eye(4), label_img=thumbnails)  # torch calls label_img.size(0)
        writer.add_embedding(np.eye(4), label_img=torch.from_numpy(thumbnails))
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_embedding(np.eye(4), label_img=thumbnails)
    their_sprite = np.asarray(Image.open(tmp_path / "torch" / "00000" / "default" / "sprite.png"))
    our_sprite = np.asarray(Image.open(tmp_path / "ours" / "00000" / "default" / "sprite.png"))
    assert their_sprite[0, 0].tolist() == [255, 255, 255]  # torch multiplied 200 by 255
    assert our_sprite[0, 0].tolist() == [200, 200, 200]


def test_difference_tall_thumbnails(tmp_path):
    thumbnails = torch.rand(10, 3, 12, 4)
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        with pytest.raises(ValueError):
            writer.add_embedding(torch.randn(10, 2), label_img=thumbnails)  # torch cannot square the grid
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_embedding(torch.randn(10, 2), label_img=thumbnails)
    sprite = np.asarray(Image.open(tmp_path / "ours" / "00000" / "default" / "sprite.png"))
    assert sprite.shape == (4 * 12, 4 * 4, 3)
    expected = scaled(thumbnails[5], np.float32).transpose(1, 2, 0)
    np.testing.assert_array_equal(sprite[12:24, 4:8], expected)  # point 5: row 1, column 1


def test_difference_metadata_from_a_tensor_of_labels(tmp_path):
    labels = torch.tensor([3, 1, 2])
    torch_dir, our_dir = both(tmp_path, lambda w: w.add_embedding(torch.randn(3, 2), metadata=labels))
    with open(os.path.join(torch_dir, "00000", "default", "metadata.tsv")) as handle:
        assert handle.read() == "tensor(3)\ntensor(1)\ntensor(2)\n"
    with open(os.path.join(our_dir, "00000", "default", "metadata.tsv")) as handle:
        assert handle.read() == "3\n1\n2\n"


def test_difference_thumbnails_are_scaled_as_add_image_scales_pixels(tmp_path):
    # the 256 grey levels of a float64 image after the tutorial's un-normalisation x / 2 + 0.5
    levels = torch.from_numpy((np.arange(256) / 255 - 0.5) / 0.5 / 2 + 0.5)
    seen = {}
    for name, cls in [("torch", TorchSummaryWriter), ("ours", SummaryWriter)]:
        with cls(str(tmp_path / name)) as writer:
            writer.add_embedding(torch.zeros(16, 2), label_img=levels.reshape(16, 1, 4, 4))  # 4 x 4 thumbnails
            writer.add_image("levels", levels.reshape(1, 16, 16), 0)
        sprite = np.asarray(Image.open(tmp_path / name / "00000" / "default" / "sprite.png"))[:, :, 0]
        (image,) = accumulate(str(tmp_path / name)).Images("levels")
        in_order = sprite.reshape(4, 4, 4, 4).transpose(0, 2, 1, 3).reshape(-1)  # thumbnail by thumbnail
        seen[name] = in_order, decode_blob(image.encoded_image_string)[:, :, 0].reshape(-1)
    (their_sprite, their_image), (our_sprite, our_image) = seen["torch"], seen["ours"]
    np.testing.assert_array_equal(our_image, their_image)  # add_image: the same pixels
    differ = their_sprite != their_image
    assert np.count_nonzero(differ) == 20  # torch's sprite (float64) disagrees with its add_image (float32)
    assert (their_image[differ] - their_sprite[differ]).tolist() == [1] * 20
    np.testing.assert_array_equal(our_sprite, their_image)  # ours agrees with add_image
