"""Log dirs on S3: a real S3 API server (moto's server mode on 127.0.0.1, a free port)
written through s3fs, read back with eventwriter's reader and with TensorBoard's own
(which reads s3:// through boto3 at ``S3_ENDPOINT``); linear upload cost, a server that
goes away and comes back, and a process killed right after ``flush()``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import numpy as np
import pytest

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

from tbread import accumulate  # noqa: E402

import eventwriter  # noqa: E402
from eventwriter import SummaryWriter  # noqa: E402
from eventwriter.reader import iter_scalars  # noqa: E402
from eventwriter.storage import storage_for  # noqa: E402

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Server:
    """moto's S3 API server in this process, on a fixed port so it can come back there."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = None

    def start(self) -> None:
        self._server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture(scope="module")
def s3():
    patch = pytest.MonkeyPatch()
    for key, value in CREDENTIALS.items():
        patch.setenv(key, value)
    server = S3Server()
    server.start()
    patch.setenv("S3_ENDPOINT", server.endpoint)  # what TensorBoard's S3 reader uses...
    from tensorboard.compat.tensorflow_stub.io import gfile

    if "s3" in gfile._REGISTERED_FILESYSTEMS:  # ...read when tensorboard was imported
        patch.setattr(gfile._REGISTERED_FILESYSTEMS["s3"], "_s3_endpoint", server.endpoint)
    yield server
    server.stop()
    patch.undo()


@pytest.fixture
def bucket(s3):
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3.endpoint).create_bucket(Bucket=name)
    return name


def _options(s3):
    return {"endpoint_url": s3.endpoint}


def _log(writer):
    for step in range(20):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.add_scalars("pair", {"train": 0.5, "valid": 0.25}, 3)
    writer.add_text("notes", "**hello**", 1)
    writer.add_histogram("weights", [0.1, 0.2, 0.3, 5.0], 2)
    writer.add_image("image", [[[0.0, 0.5], [1.0, 0.25]]], 4)
    writer.add_pr_curve("pr", [1, 0, 1, 1], [0.9, 0.2, 0.7, 0.4], 5)
    writer.add_hparams({"lr": 0.1}, {"hparam/acc": 0.9}, run_name="trial")
    writer.add_embedding([[1.0, 2.0], [3.0, 4.0]], metadata=["a", "b"], global_step=0)
    writer.add_audio("audio", [0.0, 0.5, -0.5, 0.25], 6, sample_rate=8000)
    writer.add_video("video", np.zeros((1, 2, 3, 4, 4), dtype=np.uint8), 7, fps=4)
    writer.add_mesh("mesh", np.zeros((1, 3, 3), dtype=np.float32), global_step=8)
    writer.add_custom_scalars_multilinechart(["loss"], category="charts", title="loss")
    writer.add_tensor("tensor", np.arange(6.0).reshape(2, 3), 9)


def test_every_kind_on_s3_reads_back_as_a_local_run_does(s3, bucket, tmp_path):
    url = f"s3://{bucket}/runs/exp1"
    with SummaryWriter(url, storage_options=_options(s3)) as writer:
        _log(writer)
    with SummaryWriter(str(tmp_path / "exp1")) as writer:
        _log(writer)

    def rows(points):
        return sorted((p.run, p.tag, p.step, p.value) for p in points)

    ours = rows(iter_scalars(f"s3://{bucket}/runs", storage_options=_options(s3)))
    assert ours == rows(iter_scalars(str(tmp_path)))
    assert len(ours) == 23
    # TensorBoard's own reader, through boto3 at S3_ENDPOINT
    for run in ("", "/pair_train", "/trial"):
        remote, local = accumulate(url + run), accumulate(str(tmp_path / "exp1") + run)
        assert remote.Tags() == local.Tags()
        for tag in remote.Tags()["scalars"]:
            assert [(e.step, e.value) for e in remote.Scalars(tag)] == [(e.step, e.value) for e in local.Scalars(tag)]
        for tag in remote.Tags()["images"]:
            assert [e.encoded_image_string for e in remote.Images(tag)] == [
                e.encoded_image_string for e in local.Images(tag)
            ]
        for tag in remote.Tags()["audio"]:
            sounds = [[e.encoded_audio_string for e in accumulator.Audio(tag)] for accumulator in (remote, local)]
            assert sounds[0] == sounds[1]
        for tag in remote.Tags()["tensors"]:
            assert [e.tensor_proto for e in remote.Tensors(tag)] == [e.tensor_proto for e in local.Tensors(tag)]
    client = boto3.client("s3", endpoint_url=s3.endpoint)
    config = client.get_object(Bucket=bucket, Key="runs/exp1/projector_config.pbtxt")["Body"].read()
    assert b'tensor_name: "default:00000"' in config
    # The tables read the same from S3 (an event file a series of objects there) as locally.
    remote_tables = eventwriter.tables
    for read in (remote_tables.read_scalars, remote_tables.read_text, remote_tables.read_images):
        remote_frame = read(f"s3://{bucket}/runs", storage_options=_options(s3))
        local_frame = read(str(tmp_path))
        assert len(remote_frame) and len(remote_frame) == len(local_frame)
        for column in ("run", "tag", "step"):
            assert remote_frame[column].astype(str).tolist() == local_frame[column].astype(str).tolist()


def test_forty_flushes_upload_each_byte_once(s3, bucket):
    storage = storage_for(f"s3://{bucket}/run", _options(s3))
    uploaded = []
    upload = storage.fs.pipe_file
    storage.fs.pipe_file = lambda path, data, **kwargs: (uploaded.append(len(data)), upload(path, data, **kwargs))[1]
    with SummaryWriter(f"s3://{bucket}/run", storage=storage) as writer:
        for flush in range(40):
            for n in range(100):
                writer.add_scalar("x", float(n), flush * 100 + n)
            writer.flush()
    objects = boto3.client("s3", endpoint_url=s3.endpoint).list_objects_v2(Bucket=bucket, Prefix="run/")["Contents"]
    final = sum(item["Size"] for item in objects)
    assert len(objects) == 41
    assert sum(uploaded) == final  # torch's writer uploads about 20 times this here
    assert len(list(iter_scalars(f"s3://{bucket}/run", storage_options=_options(s3)))) == 4000


def test_a_server_that_goes_away_and_comes_back_loses_nothing(s3, bucket):
    writer = SummaryWriter(f"s3://{bucket}/run", storage_options=_options(s3))
    writer.add_scalar("x", 0.0, 0)
    writer.flush()
    s3.stop()
    try:
        for step in range(1, 200):
            writer.add_scalar("x", float(step), step)
        flushed = threading.Thread(target=writer.flush)  # retries while the server is away
        flushed.start()
        time.sleep(2)
        assert flushed.is_alive()
    finally:
        s3.start()
    flushed.join(60)
    assert not flushed.is_alive()
    writer.close()
    steps = [p.step for p in iter_scalars(f"s3://{bucket}/run", storage_options=_options(s3))]
    assert steps == list(range(200))


def test_os_exit_after_flush_keeps_everything_flushed(s3, bucket):
    script = textwrap.dedent(
        f"""
        import os
        from eventwriter import SummaryWriter
        writer = SummaryWriter("s3://{bucket}/run", storage_options={{"endpoint_url": "{s3.endpoint}"}})
        for step in range(500):
            writer.add_scalar("x", float(step), step)
        writer.flush()
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    steps = [p.step for p in iter_scalars(f"s3://{bucket}/run", storage_options=_options(s3))]
    assert steps == list(range(500))


def test_a_missing_bucket_or_missing_credentials_fail_at_construction(s3, bucket, monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="bucket 'no-such-bucket' does not exist"):
        SummaryWriter("s3://no-such-bucket/run", storage_options=_options(s3))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    options = {**_options(s3), "skip_instance_cache": True}  # not the file system made with credentials
    with pytest.raises(PermissionError, match=f"no credentials for bucket '{bucket}'.*storage_options"):
        SummaryWriter(f"s3://{bucket}/run", storage_options=options)


def test_writers_adding_embeddings_to_one_s3_run_at_once_lose_none(s3, bucket):
    # Each writer has its own storage (no lock in common): S3's conditional writes keep
    # every writer's entries in projector_config.pbtxt.
    url = f"s3://{bucket}/run"
    start = threading.Barrier(4)
    failures = []

    def add(n):
        try:
            with SummaryWriter(url, storage_options=_options(s3)) as writer:
                start.wait()
                for k in range(3):
                    writer.add_embedding([[float(n), float(k)]], tag=f"writer{n}_{k}", global_step=0)
        except Exception as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    config = boto3.client("s3", endpoint_url=s3.endpoint).get_object(Bucket=bucket, Key="run/projector_config.pbtxt")
    text = config["Body"].read().decode()
    assert sorted(line for line in text.splitlines() if "tensor_name" in line) == sorted(
        f'  tensor_name: "writer{n}_{k}:00000"' for n in range(4) for k in range(3)
    )


def test_the_cli_reads_s3_with_fsspecs_environment_configuration(s3, bucket):
    with SummaryWriter(f"s3://{bucket}/run", storage_options=_options(s3)) as writer:
        writer.add_scalar("loss", 0.5, 7)
    environment = {**os.environ, "FSSPEC_S3_ENDPOINT_URL": s3.endpoint}
    command = [sys.executable, "-c", "import sys; from eventwriter.cli import main; sys.exit(main())"]
    validate = subprocess.run([*command, "validate", f"s3://{bucket}"], env=environment, capture_output=True, text=True)
    assert validate.returncode == 0, validate.stderr
    validate = subprocess.run(
        [*command, "validate", "--tensorboard", f"s3://{bucket}"], env=environment, capture_output=True, text=True
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "TensorBoard reads s3:// log dirs with its Python loader only" in validate.stdout
    assert "shown: --load_fast=false 1" not in validate.stdout  # a sound tag is not listed
    export = subprocess.run(
        [*command, "export", "--format", "jsonl", f"s3://{bucket}/run"], env=environment, capture_output=True, text=True
    )
    assert export.returncode == 0, export.stderr
    assert '"step": 7' in export.stdout and '"value": 0.5' in export.stdout


def test_a_script_that_never_closes_its_s3_writer_loses_nothing(s3, bucket):
    # At exit the queue is drained while fsspec's uploads still work (before
    # concurrent.futures stops taking work), and quickly.
    script = textwrap.dedent(
        f"""
        from eventwriter import SummaryWriter
        writer = SummaryWriter("s3://{bucket}/run", storage_options={{"endpoint_url": "{s3.endpoint}"}})
        for step in range(300):
            writer.add_scalar("x", float(step), step)
        """
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert time.monotonic() - started < 30
    steps = [p.step for p in iter_scalars(f"s3://{bucket}/run", storage_options=_options(s3))]
    assert steps == list(range(300))


def test_a_passing_fault_while_the_projector_config_is_updated_is_retried(s3, bucket):
    storage = storage_for(f"s3://{bucket}/run", _options(s3))
    upload, faults = storage.fs.pipe_file, []

    def flaky(path, data, **kwargs):
        if path.endswith("projector_config.pbtxt") and not faults:
            faults.append(path)
            raise OSError("503 Slow Down (test)")
        return upload(path, data, **kwargs)

    storage.fs.pipe_file = flaky
    with SummaryWriter(f"s3://{bucket}/run", storage=storage) as writer:
        writer.add_embedding([[1.0, 2.0]], tag="points")
    assert faults
    config = boto3.client("s3", endpoint_url=s3.endpoint).get_object(Bucket=bucket, Key="run/projector_config.pbtxt")
    assert b'tensor_name: "points:00000"' in config["Body"].read()


def test_a_url_without_a_bucket_is_refused_at_once(s3):
    started = time.monotonic()
    with pytest.raises(ValueError, match="name a bucket"):
        SummaryWriter("s3://", storage_options=_options(s3))
    assert time.monotonic() - started < 5
