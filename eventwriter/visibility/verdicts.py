"""What each loader shows of each tag of a run, once its files are read, and the
findings: values lost, sampled or replaced, with reasons and fixes."""

from __future__ import annotations

from eventwriter.proto.summary_pb2 import DATA_CLASS_BLOB_SEQUENCE, DATA_CLASS_TENSOR, DATA_CLASS_UNKNOWN
from eventwriter.visibility.default_loader import DEFAULT_KEEPS, DefaultSeries
from eventwriter.visibility.findings import BOTH, DEFAULT, PYTHON, Effect, Finding
from eventwriter.visibility.kinds import CLASS_OF_PLUGIN, UNKNOWN_PLUGIN_FIX, Losses
from eventwriter.visibility.python_loader import PythonSeries, odd_kind
from eventwriter.visibility.state import RunState, TagView

__all__ = ["tag_findings"]

_NO_CLIP_FIX = "give every audio value a clip"


def tag_findings(state: RunState) -> list[Finding]:
    findings: list[Finding] = []
    for tag, view in state.views.items():
        default, python = state.default.get(tag), state.python.series.get(tag)
        view.shown[DEFAULT] = _default_shown(state, view, default, findings)
        view.shown[PYTHON] = _python_shown(state, view, python, findings)
        for loader in (DEFAULT, PYTHON):
            view.exact.setdefault(loader, True)
        if tag in state.other_contents:
            count, first_step = state.other_contents[tag]
            findings.append(
                Finding(
                    state.name,
                    tag,
                    BOTH,
                    Effect.LOST,
                    "hyperparameters written again under the same tag with others: the hparams dashboard reads "
                    "only the tag's first metadata, so the later ones are not shown",
                    "log the hyperparameters once per run, all of them (each add_hparams call makes a run of its own)",
                    count,
                    view.values,
                    first_step,
                )
            )
        for loader in (DEFAULT, PYTHON):
            if tag in state.unread[loader]:
                _report(state, view, loader, state.unread[loader][tag], findings)
    return findings


def _report(state: RunState, view: TagView, loader: str, losses: Losses, findings: list[Finding]) -> None:
    for (reason, fix), (count, first_step) in losses.lost.items():
        findings.append(Finding(state.name, view.tag, loader, Effect.LOST, reason, fix, count, view.values, first_step))
    if losses.replaced and view.plugin != "hparams":  # hparams: the dashboard keeps the first (LOST, if others)
        who = (
            "the default loader shows the later ones"
            if loader == DEFAULT
            else "the Python loader shows the later ones (it replaces values only after a second "
            "SessionLog.START, or in files older than brain.Event:2)"
        )
        findings.append(
            Finding(
                state.name,
                view.tag,
                loader,
                Effect.REPLACED,
                f"values written again at the same or an earlier step (a restart, or a step logged twice): {who}",
                "pass increasing global_step values, unless a restart meant to replace them",
                losses.replaced,
                view.values,
                losses.replaced_from,
            )
        )


def _sampled(
    state: RunState, view: TagView, loader: str, kept: int, keeps: int, findings: list[Finding], exact: bool = True
) -> int:
    """How many of ``kept`` values a loader keeping ``keeps`` holds (reported if it
    samples); ``exact``: False when the sample, once full, lost values to drops or
    replacements, so that fewer may stay."""
    view.exact[loader] = exact and view.exact.get(loader, True)
    if kept <= keeps:
        return kept
    plugin = view.plugin or "PLUGIN"
    fewer = "" if exact else " (fewer, where values were dropped or replaced after the sample filled)"
    findings.append(
        Finding(
            state.name,
            view.tag,
            loader,
            Effect.SAMPLED,
            f"{kept} values, more than the {keeps} kept per tag: a random sample is shown, the last value "
            f"always{fewer}",
            f"start tensorboard with --samples_per_plugin={plugin}={kept} to keep them all",
            kept - keeps,
            view.values,
        )
    )
    return keeps


def _default_shown(state: RunState, view: TagView, series: DefaultSeries | None, findings: list[Finding]) -> int:
    if series is None:
        return 0
    _report(state, view, DEFAULT, series.losses, findings)
    if series.data_class == DATA_CLASS_UNKNOWN:
        return 0
    if series.route_fails is not None and len(series.steps) <= series.keeps:
        lost = sum(series.valid)
        findings.append(Finding(state.name, view.tag, DEFAULT, Effect.LOST, *series.route_fails, lost, view.values))
        return 0
    if series.route_fails is not None:  # the sample may leave that value out
        reason, fix = series.route_fails
        reason = f"{reason}, if the loader's random sample keeps that value"
        findings.append(Finding(state.name, view.tag, DEFAULT, Effect.LOST, reason, fix, None, view.values))
        view.exact[DEFAULT] = False
    valid = sum(series.valid)
    if valid and series.plugin and series.plugin not in CLASS_OF_PLUGIN:
        findings.append(
            Finding(
                state.name, view.tag, BOTH, Effect.NOTE, f"plugin {series.plugin!r}: no built-in dashboard shows it"
            )
        )
    keeps = DEFAULT_KEEPS[series.data_class]
    return min(valid, _sampled(state, view, DEFAULT, len(series.steps), keeps, findings, series.exact))


def _python_shown(state: RunState, view: TagView, series: PythonSeries | None, findings: list[Finding]) -> int:
    if series is None:
        stored_none = view.values - sum(
            count for count, _ in state.unread[PYTHON].get(view.tag, Losses()).lost.values()
        )
        if stored_none > 0:  # values without data: nothing to store
            findings.append(
                Finding(
                    state.name,
                    view.tag,
                    PYTHON,
                    Effect.LOST,
                    "the tag's values hold no data (torch's add_video writes such values when moviepy is "
                    "missing): the Python loader stores none of them",
                    "install moviepy for torch's add_video, or use eventwriter's add_video (Pillow alone)",
                    stored_none,
                    view.values,
                )
            )
        return 0
    plugin, data_class = state.python.metadata.get(view.tag, ("", DATA_CLASS_UNKNOWN))
    if series.unservable is None and data_class == DATA_CLASS_UNKNOWN:
        fix = "write the plugin metadata with the tag's first value (every SummaryWriter method does)"
        if view.tag not in state.python.metadata:
            why = "no value of the tag carries plugin metadata"
        elif plugin and plugin not in CLASS_OF_PLUGIN:
            why = f"plugin {plugin!r} has no data class TensorBoard knows and the metadata sets none"
            fix = UNKNOWN_PLUGIN_FIX
        else:
            why = (
                "the tag's first value in the file that gives its plugin carries no metadata, so it gets no data class"
            )
        series.unservable = (f"{why}: the Python loader serves none of the tag's values", fix)
    if series.unservable is None and data_class == DATA_CLASS_TENSOR:
        odd = next(
            (
                (step, what)
                for step, kind in zip(series.steps, series.kinds)
                if (what := odd_kind(kind, plugin, data_class))
            ),
            None,
        )
        if odd is not None:
            series.unservable = (
                f"{odd[1]} at step {odd[0]} under a {plugin} tag: the Python loader's route fails for the whole "
                "tag (HTTP 500)",
                "log each kind of data under its own tag",
            )
    _report(state, view, PYTHON, series.losses, findings)
    if series.unservable is not None:
        lost = len(series.steps)
        findings.append(Finding(state.name, view.tag, PYTHON, Effect.LOST, *series.unservable, lost, view.values))
        view.exact[PYTHON] = True
        return 0
    if data_class == DATA_CLASS_BLOB_SEQUENCE:
        return _python_blobs(state, view, series, plugin, findings)
    return _sampled(state, view, PYTHON, len(series.steps), series.keeps, findings, not series.purged_when_full)


def _python_blobs(state: RunState, view: TagView, series: PythonSeries, plugin: str, findings: list[Finding]) -> int:
    """Images and audio: the Python loader serves the first value of each step, and skips
    values of another kind."""
    first_fits: dict[int, bool] = {}
    odd: dict[str, list[int]] = {}  # what -> [count, first step]
    repeated, repeated_from = 0, None
    for step, kind in zip(series.steps, series.kinds):
        what = odd_kind(kind, plugin, DATA_CLASS_BLOB_SEQUENCE)
        if what is not None and plugin == "audio" and len(series.steps) > series.keeps and view.exact.get(PYTHON, True):
            reason = f"{what} at step {step}: the audio route fails for the whole tag (HTTP 500), if the loader's "
            reason += "random sample keeps that value"
            findings.append(Finding(state.name, view.tag, PYTHON, Effect.LOST, reason, _NO_CLIP_FIX, None, view.values))
            view.exact[PYTHON] = False
            continue
        if what is not None and plugin == "audio" and len(series.steps) > series.keeps:
            continue  # reported once
        if what is not None and plugin == "audio":  # the audio route fails on a value of no clip
            reason = f"{what} at step {step}: the audio route fails for the whole tag (HTTP 500)"
            lost = len(series.steps)
            findings.append(Finding(state.name, view.tag, PYTHON, Effect.LOST, reason, _NO_CLIP_FIX, lost, view.values))
            return 0
        if what is not None:
            odd.setdefault(what, [0, step])[0] += 1
        if step in first_fits:
            repeated += 1
            repeated_from = step if repeated_from is None else min(repeated_from, step)
        else:
            first_fits[step] = what is None
    for what, (count, first_step) in odd.items():
        reason = f"{what} under an {plugin} tag: the Python loader's route skips it"
        fix = "log each kind of data under its own tag"
        findings.append(Finding(state.name, view.tag, PYTHON, Effect.LOST, reason, fix, count, view.values, first_step))
    if repeated:
        findings.append(
            Finding(
                state.name,
                view.tag,
                PYTHON,
                Effect.REPLACED,
                "values at a step already used: the Python loader shows the first of each step (the default "
                "loader the last)",
                "pass a new global_step for each value",
                repeated,
                view.values,
                repeated_from,
            )
        )
    cap = _sampled(state, view, PYTHON, len(series.steps), series.keeps, findings, not series.purged_when_full)
    if cap < len(series.steps) and (repeated or odd):
        view.exact[PYTHON] = False  # the sample is taken before the steps are told apart
    return min(cap, sum(first_fits.values()))
