"""Every ``add_*`` of SummaryWriter with random arguments (issue 10's bounded fuzz test).

Arguments are drawn with hypothesis: numpy arrays of random shapes (empty and 0-d
included) and dtypes (bool, ints, uints, floats of every width, complex, object,
strings) holding special values (NaN, ±inf, -0.0, huge, tiny), Python values of odd
types, random tags (empty, unicode, lone surrogates, NUL, very long), steps and wall
times of odd types, and None. Each argument is drawn plausible or odd (in half the
examples all are plausible), so that the deep paths (drawing boxes, bucketing,
encoding) run too. With torch installed, a second test passes the arrays as torch
tensors (bfloat16 and 'meta' ones included).

Each call must either return or raise TypeError or ValueError, and nothing else: no
other exception, no warning (but those of EXPECTED_WARNINGS, given on purpose). Then
``flush()`` must not raise (a call that was accepted must not fail later in the writer
thread), the writer must keep working, and after ``close()`` the log dir (on the local
file system: file names count) must pass ``eventwriter validate``, every record must
decode, and the tag of an accepted call must be in the files.

Deterministic (``derandomize=True``, no example database) and bounded: the whole file
runs in well under a minute. For a longer, random search set EVENTWRITER_FUZZ_EXAMPLES,
e.g. 2000.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import math
import os
import tempfile
import warnings
from typing import Any

import numpy as np
import pytest
from google.protobuf import text_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eventwriter import SummaryWriter, cli
from eventwriter.proto.projector_config_pb2 import ProjectorConfig
from eventwriter.reader import find_event_files, iter_events

_EXPLORE = int(os.environ.get("EVENTWRITER_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int) -> settings:
    return settings(max_examples=_EXPLORE or examples, deadline=None, derandomize=not _EXPLORE, database=None,
                    suppress_health_check=list(HealthCheck))  # fmt: skip


# Warnings that eventwriter gives on purpose, and numpy's about its "stone" bin rule (passed
# on, as torch does); any other warning fails the test.
EXPECTED_WARNINGS = [r".*audio samples reach .* beyond \[-1, 1\]; clipped", r".*beyond TensorBoard's 8192",
                     r"The number of bins estimated may be suboptimal"]  # fmt: skip

# -- values: each argument is drawn plausible (most of the time) or odd ---------------------

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128", "U3", "S3", "O"]  # fmt: skip
REAL = ["float16", "float32", "float64", "uint8", "int64", "bool"]
SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1.0, -1.0, 0.5, 1e308, -1e308, 5e-324, 1e-300,
                  65504.0, 3.4e38, 1e20, 255.0, 2.0**31, 2.0**63]  # fmt: skip


def _fits(dtype: np.dtype, value: float) -> bool:
    with np.errstate(all="ignore"):
        cast = dtype.type(value)
    return complex(cast) == value or (math.isnan(value) and bool(np.isnan(cast)))


def elements(dtype: np.dtype, finite: bool) -> st.SearchStrategy[Any]:
    if dtype.kind == "O":
        return st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3))
    if dtype.kind not in "fc":
        return hnp.from_dtype(dtype)
    specials = [v for v in SPECIAL_FLOATS if _fits(dtype, v) and (math.isfinite(v) or not finite)]
    return st.one_of(st.sampled_from(specials), hnp.from_dtype(dtype, allow_nan=not finite, allow_infinity=not finite))


def arrays(dtypes: list[str] = DTYPES, shape: Any = None, finite: bool = False) -> st.SearchStrategy[np.ndarray]:
    shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5) if shape is None else shape
    return st.tuples(st.sampled_from(dtypes).map(np.dtype), shapes).flatmap(
        lambda ds: hnp.arrays(ds[0], ds[1], elements=elements(ds[0], finite))
    )


def real(*sides: Any, low: float | None = None, high: float | None = None) -> st.SearchStrategy[np.ndarray]:
    """Finite real arrays of the given sides (ints or strategies), within [low, high] if given."""
    shape = st.tuples(*[st.just(side) if isinstance(side, int) else side for side in sides])
    if low is None:
        return arrays(REAL, shape, finite=True)
    return st.tuples(st.sampled_from(["float32", "float64"]), shape).flatmap(
        lambda ds: hnp.arrays(ds[0], ds[1], elements=st.floats(low, high, width=32))
    )


ODD_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([10**400, -(10**400), 2**63, 2**64]), st.floats(),
    st.complex_numbers(), st.text(max_size=4), st.binary(max_size=4), st.builds(np.float32, st.floats(width=32)),
    st.builds(np.int64, st.integers(-(2**63), 2**63 - 1)), st.builds(np.uint64, st.integers(0, 2**64 - 1)),
    st.just(np.bool_(True)),
)  # fmt: skip
NESTED = st.recursive(st.one_of(st.floats(), st.integers(-1000, 1000), st.booleans()), st.lists, max_leaves=12)
ANYTHING = st.one_of(arrays(), ODD_SCALARS, NESTED, st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
ODD_TAGS = ["", " ", "é ü", "日本語", "x" * 300, "ü" * 200, "\ud800", "a\x00b", "%", "a/b", "a\\b", ".", "..",
            "../up", "/abs", "a" * 4000]  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=8)  # no lone surrogates
NAME = st.one_of(st.sampled_from(["t", "loss/train", "é ü", "a%b"]), TEXT.filter(bool))


def arg(plausible: st.SearchStrategy[Any], odd: st.SearchStrategy[Any] = ANYTHING) -> Any:
    return plausible, odd


TAG = arg(NAME, st.one_of(st.text(max_size=12), st.sampled_from(ODD_TAGS), ODD_SCALARS))
STEP = arg(
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.integers(), st.floats(), st.sampled_from([-(2**63), 2**63, 1.5, math.nan, True, "3"]),
              st.builds(np.int32, st.integers(-(2**31), 2**31 - 1)), arrays(shape=hnp.array_shapes(max_dims=1))),
)  # fmt: skip
WALL = arg(st.one_of(st.none(), st.floats(0, 2e9)), st.one_of(st.floats(), st.integers(), ODD_SCALARS))
FLAG = arg(st.booleans(), ODD_SCALARS)
SCALAR = arg(st.one_of(st.floats(), st.integers(-(10**6), 10**6), arrays(REAL, st.just((1,)))), ODD_SCALARS)
N = st.integers(1, 6)
SIDE = st.integers(1, 9)


def positive(low: float, high: float, *specials: float) -> Any:
    return arg(st.floats(low, high), st.one_of(st.sampled_from(specials), st.floats(), st.integers(-3, 10**6)))


def call(*args: Any, **kwargs: Any) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Positional and keyword arguments (each keyword given or not): in half the examples
    all plausible, in the others each odd with a chance of 1 in 10 to 5 in 10."""

    @st.composite
    def draw_call(draw: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        odd_share = draw(st.sampled_from([0, 0, 0, 1, 3, 5]))

        def pick(choice: tuple[Any, Any]) -> Any:
            return draw(choice[1] if draw(st.integers(0, 9)) < odd_share else choice[0])

        keywords = {name: pick(choice) for name, choice in kwargs.items() if draw(st.booleans())}
        return tuple(pick(choice) for choice in args), keywords

    return draw_call()


BINS = st.one_of(
    st.sampled_from(["tensorflow", "auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt"]),
    st.integers(1, 50), st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=5, unique=True).map(sorted),
)  # fmt: skip
ODD_BINS = st.one_of(st.sampled_from(["bogus", 0, -2, 10**12, 2**62]), st.lists(st.floats(), max_size=5), ANYTHING)
CHART = st.tuples(st.sampled_from(["Multiline", "margin"]), st.lists(TEXT, min_size=3, max_size=3)).map(list)
ODD_CHART = st.tuples(st.sampled_from(["Pie", None, "Margin"]), st.lists(st.text(max_size=3), max_size=4)).map(list)
LAYOUT = st.dictionaries(TEXT, st.dictionaries(TEXT, CHART, max_size=2), max_size=2)
ODD_LAYOUT = st.one_of(st.dictionaries(st.text(max_size=3), st.dictionaries(st.text(max_size=3), ODD_CHART)), ANYTHING)
HPARAM = st.one_of(st.floats(), st.integers(), st.booleans(), TEXT, st.none(), arrays(REAL, st.just((1,))))
ODD_HPARAM = st.one_of(arrays(), ODD_SCALARS, st.lists(st.integers(), max_size=2), st.sampled_from(["\ud800"]))
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=3), inner, max_size=2)),
    max_leaves=6,
)
UNIT = {"low": 0.0, "high": 1.0}
CURVE = arg(real(4))

CALLS: dict[str, st.SearchStrategy[Any]] = {
    "add_scalar": call(TAG, SCALAR, STEP, WALL, new_style=FLAG, double_precision=FLAG),
    "add_scalars": call(
        TAG, arg(st.dictionaries(NAME, SCALAR[0], max_size=3),
                 st.dictionaries(st.one_of(st.sampled_from(ODD_TAGS), st.integers()), SCALAR[1], max_size=3)),
        STEP, WALL,
    ),
    "add_text": call(TAG, arg(st.one_of(TEXT, st.just("x" * 100_000)), st.one_of(st.just("a\ud800"), ANYTHING)),
                     STEP, WALL),
    "add_tensor": call(TAG, arg(arrays([d for d in DTYPES if d != "O"])), STEP, WALL),
    "add_histogram": call(
        TAG, arg(real(N, st.integers(1, 4))), STEP, bins=arg(BINS, ODD_BINS), walltime=WALL,
        max_bins=arg(st.one_of(st.none(), st.integers(1, 20)), st.one_of(st.integers(-1, 0), ODD_SCALARS)),
    ),
    "add_histogram_raw": call(TAG, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, CURVE, CURVE, STEP, WALL),
    "add_image": call(TAG, arg(real(st.sampled_from([1, 3, 4]), SIDE, SIDE)), STEP, WALL,
                      arg(st.just("CHW"), st.sampled_from(["HWC", "HW", "WH", "NCHW", "chw", "CHX", "CCW", "", 3]))),
    "add_images": call(TAG, arg(real(st.integers(1, 10), st.sampled_from([1, 3, 4]), SIDE, SIDE)), STEP, WALL,
                       arg(st.just("NCHW"), st.sampled_from(["NHWC", "CHW", "HW", "NCHX", "", None]))),
    "add_image_with_boxes": call(
        TAG, arg(real(st.sampled_from([1, 3]), SIDE, SIDE)), arg(real(st.integers(0, 3), 4)), STEP, WALL,
        positive(0.5, 4, 1e-9, 1e9, math.nan, math.inf), arg(st.just("CHW"), st.sampled_from(["HWC", "NCHW", "X"])),
        arg(st.one_of(st.none(), st.none(), st.lists(TEXT, min_size=1, max_size=1)),
            st.one_of(st.lists(st.sampled_from(["\ud800", "日本", "a\x00", "", "ü" * 30])), ANYTHING)),
    ),
    "add_figure": call(TAG, arg(ANYTHING), STEP, close=FLAG, walltime=WALL),  # no figures: matplotlib is slow
    "add_video": call(TAG, arg(real(N, st.integers(1, 3), st.sampled_from([1, 3]), SIDE, SIDE)), STEP,
                      positive(0.1, 100, 1e-9, 1e300, math.inf, 60), WALL),
    "add_audio": call(
        TAG, arg(st.one_of(real(st.integers(1, 50), low=-1, high=1), real(2, st.integers(1, 50)))), STEP,
        positive(1, 1e5, 0.4, 0.6, 1.5e9, 2.0**31 - 0.4, 2.0**32, 1e12, math.nan, math.inf), WALL,
    ),
    "add_pr_curve": call(
        TAG, arg(real(5, **UNIT)), arg(real(5, **UNIT)), STEP, arg(st.integers(2, 300), st.one_of(
            st.integers(-2, 1), st.sampled_from([2**31, 2**62, 10**30]), ODD_SCALARS)),
        arg(st.one_of(st.none(), real(5, low=0, high=10))), WALL,
    ),
    "add_pr_curve_raw": call(TAG, CURVE, CURVE, CURVE, CURVE, CURVE, CURVE, STEP, arg(st.integers(2, 300)),
                             arg(st.none()), WALL),
    "add_mesh": call(
        TAG, arg(real(1, 5, 3)), arg(st.one_of(st.none(), arrays(["uint8"], st.just((1, 5, 3)))), st.none()),
        arg(st.one_of(st.none(), hnp.arrays(np.int64, (1, 2, 3), elements=st.integers(0, 4))), st.none()),
        arg(st.one_of(st.none(), st.dictionaries(TEXT, JSONISH, max_size=2))), STEP, WALL,
    ),
    "add_hparams": call(
        arg(st.dictionaries(NAME, HPARAM, max_size=3), st.dictionaries(st.one_of(NAME, st.integers()), ODD_HPARAM)),
        arg(st.dictionaries(NAME, SCALAR[0], max_size=3), st.dictionaries(st.text(max_size=3), SCALAR[1])),
        arg(st.none(), st.dictionaries(st.text(max_size=4), st.lists(st.one_of(HPARAM, ODD_HPARAM), max_size=3))),
        arg(st.one_of(st.none(), st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True)), st.sampled_from(ODD_TAGS)),
        STEP, same_run=FLAG,
    ),
    "add_custom_scalars": call(arg(LAYOUT, ODD_LAYOUT)),
    "add_custom_scalars_multilinechart": call(arg(st.lists(TEXT, max_size=4)), category=TAG, title=TAG),
    "add_custom_scalars_marginchart": call(arg(st.lists(TEXT, min_size=3, max_size=3)), category=TAG, title=TAG),
    "add_embedding": call(
        arg(real(5, st.integers(1, 4))), arg(st.one_of(st.none(), st.lists(TEXT, min_size=5, max_size=5))),
        arg(st.one_of(st.none(), real(5, st.sampled_from([1, 3]), SIDE, SIDE))), STEP, TAG,
        arg(st.none(), st.lists(st.text(max_size=3), max_size=3)), binary=FLAG,
    ),
}  # fmt: skip
NEEDS_PILLOW = {"add_image", "add_images", "add_image_with_boxes", "add_video", "add_embedding"}
HAS_PILLOW = importlib.util.find_spec("PIL") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None

# -- what an accepted call must have written ---------------------------------------------


def written_tag(method: str, arguments: dict[str, Any]) -> str | None:
    """The tag an accepted call writes (None: nothing to look for)."""
    if method == "add_scalars":
        return arguments["main_tag"] if arguments["tag_scalar_dict"] else None
    if method == "add_hparams":
        return "_hparams_/session_start_info"
    if method.startswith("add_custom_scalars"):
        return "custom_scalars__config__"
    if method == "add_embedding":
        return None  # checked in the projector config
    suffix = {"add_text": "/text_summary", "add_mesh": "_VERTEX"}.get(method, "")
    return arguments["tag"] + suffix


def read_back(logdir: str) -> tuple[set[str], list[str]]:
    """The log dir validated as ``eventwriter validate`` does it; then every record of
    every event file decoded. Returns the tags of all runs and the projector's tensor
    names."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        assert cli.main(["validate", logdir]) == 0, report.getvalue()
    tags = set()
    for paths in find_event_files(logdir).values():
        for path in paths:
            events = list(iter_events(path, stop_at_truncation=False))
            assert events[0].file_version == "brain.Event:2"
            tags |= {value.tag for event in events[1:] for value in event.summary.value}
    names = []
    if os.path.exists(os.path.join(logdir, "projector_config.pbtxt")):
        with open(os.path.join(logdir, "projector_config.pbtxt"), encoding="utf-8") as config:
            names = [e.tensor_name for e in text_format.Parse(config.read(), ProjectorConfig()).embeddings]
    return tags, names


def check_call(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    bound = inspect.signature(getattr(SummaryWriter, method)).bind(None, *args, **kwargs)
    bound.apply_defaults()
    with tempfile.TemporaryDirectory() as logdir:
        writer = SummaryWriter(logdir, clock=lambda: 1.7e9, hostname="fuzz", pid=1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                for message in EXPECTED_WARNINGS:
                    warnings.filterwarnings("ignore", message=message)
                try:
                    getattr(writer, method)(*args, **kwargs)
                    accepted = True
                except (TypeError, ValueError):
                    accepted = False
                writer.flush()  # an accepted call must not fail in the writer thread
            writer.add_scalar("after", 1.0, 0)
        finally:
            writer.close()
        tags, names = read_back(logdir)
    assert "after" in tags
    if accepted:
        tag = written_tag(method, bound.arguments)
        assert tag is None or tag in tags, (tag, tags)
        if method == "add_embedding":
            assert any(name.startswith(f"{bound.arguments['tag']}:") for name in names), names


def methods() -> list[Any]:
    needs_pillow = pytest.mark.skipif(not HAS_PILLOW, reason="needs Pillow")
    return [pytest.param(name, marks=[needs_pillow] if name in NEEDS_PILLOW else []) for name in sorted(CALLS)]


@pytest.mark.parametrize("method", methods())
@fuzz(40)
@given(data=st.data())
def test_add_returns_or_raises_type_or_value_error_and_the_files_stay_valid(method, data):
    args, kwargs = data.draw(CALLS[method], label="arguments")
    check_call(method, args, kwargs)


def as_torch(value: Any, variant: str) -> Any:
    """numpy arrays (also inside lists and dicts) as torch tensors: as they are, in
    bfloat16 (floats), or on the 'meta' device; dtypes torch lacks stay numpy arrays."""
    import torch

    if isinstance(value, (list, tuple)):
        return type(value)(as_torch(item, variant) for item in value)
    if isinstance(value, dict):
        return {key: as_torch(item, variant) for key, item in value.items()}
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biufc" or value.dtype.char in "HILQ":
        return value  # not an array, or of a dtype torch lacks (unsigned beyond 8 bits)
    tensor = torch.from_numpy(np.ascontiguousarray(value))
    if variant == "bfloat16" and tensor.is_floating_point():
        return tensor.to(torch.bfloat16)
    return tensor.to("meta") if variant == "meta" else tensor


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
@pytest.mark.parametrize("method", methods())
@fuzz(15)
@given(data=st.data())
def test_torch_tensors_too(method, data):
    args, kwargs = data.draw(CALLS[method], label="arguments")
    variant = data.draw(st.sampled_from(["cpu", "cpu", "bfloat16", "meta"]), label="tensors")
    check_call(method, as_torch(args, variant), as_torch(kwargs, variant))
