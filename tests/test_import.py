"""Importing eventwriter (and using it for scalars and text) never loads torch or tensorboard."""

import subprocess
import sys
import textwrap


def test_import_and_scalar_logging_stay_light(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        import eventwriter, eventwriter.summary, eventwriter.reader, eventwriter.cli
        from eventwriter import SummaryWriter
        with SummaryWriter({str(tmp_path)!r}) as writer:
            writer.add_scalar("x", 1.0, 0)
            writer.add_scalars("m", {{"a": 1.0}}, 0)
            writer.add_text("t", "hi", 0)
        heavy = {{"torch", "tensorboard", "tensorflow", "tensorboardX"}}
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
