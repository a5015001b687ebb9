"""nbconvert preprocessors the kit adds to nbgrader's feedback step."""
from __future__ import annotations

import json
import re

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, Execute
from nbgrader.preprocessors.base import NbGraderPreprocessor
from traitlets import Integer

from mmkit.checks import REPORT_MIME

HIDDEN_NOTE = "(the failing check is a hidden test: its code is not shown, only its message)"
# error names SafeExecute writes when it ends a run (nbgrader's own name for an interrupted,
# then finished, cell is CellTimeoutError: that one does not end the run)
KERNEL_DIED, KERNEL_STUCK, NOT_RUN = "KernelDied", "KernelStuck", "NotRun"


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden tests from a graded cell's source and from its traceback.

    nbgrader's ClearHiddenTests removes the source but leaves the traceback, whose frames quote
    the hidden lines. Here an error in a cell that held hidden tests keeps only its message,
    which the kit's checks write for students.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        had_hidden = self._remove_hidden_test_region(cell)
        if had_hidden and utils.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}", HIDDEN_NOTE]
        return cell, resources


class TrimOutputs(NbGraderPreprocessor):
    """Cap every text output at max_bytes (nbgrader's LimitOutput counts lines, so one huge line
    passes it), drop images larger than max_image_bytes, and keep HTML whole or not at all (an audio
    player up to max_image_bytes, other HTML up to max_bytes)."""

    max_bytes = Integer(20_000, help="bytes of text kept per output").tag(config=True)
    max_image_bytes = Integer(2_000_000, help="largest image kept (base64 bytes)").tag(config=True)

    def _trim(self, text: str) -> str:
        data = text.encode("utf-8", "replace")
        if len(data) <= self.max_bytes:
            return text
        kept = data[: self.max_bytes].decode("utf-8", "ignore")
        return kept + f"\n... output trimmed: {len(data):,} bytes in all ..."

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if "text" in output:
                output.text = self._trim("".join(output.text) if isinstance(output.text, list) else output.text)
            if output.output_type == "error":
                output.evalue = self._trim(output.evalue)
                output.traceback = [self._trim(line) for line in output.traceback]
            for mime, value in list(output.get("data", {}).items()):
                value = "".join(value) if isinstance(value, list) else value
                if not isinstance(value, str):
                    continue
                if mime.startswith("image/"):
                    if len(value) > self.max_image_bytes:
                        output.data.pop(mime)
                        output.data.setdefault("text/plain", f"(image of {len(value):,} bytes left out)")
                elif mime == "text/html" and len(value.encode("utf-8", "replace")) > self.max_bytes:
                    # HTML cut short is broken HTML: an audio or video player (a clip is a data URI of
                    # tens of kB) is kept whole within the image budget, other long HTML is left out
                    if re.search(r"<(audio|video)\b", value) and len(value) <= self.max_image_bytes:
                        continue
                    output.data.pop(mime)
                    output.data.setdefault("text/plain", f"(HTML output of {len(value):,} bytes left out)")
                else:
                    output.data[mime] = self._trim(value)
        return cell, resources


class SafeExecute(Execute):
    """nbgrader's Execute with three changes for untrusted notebooks:

    - outputs are capped in bytes while they arrive (per cell and per notebook), so a 100 MB
      line never reaches memory twice, the notebook or the feedback;
    - a kernel that dies (os._exit, a crash, the memory limit) or that ignores the interrupt
      after a cell's time-out ends the run: that cell gets an error, later cells are marked
      not run, and the points earned before still count (nbgrader would fail the whole notebook);
    - nothing else: grading the outputs is the parent process's job.
    """

    max_cell_output_bytes = Integer(200_000, help="bytes of output kept per cell").tag(config=True)
    max_output_bytes = Integer(4_000_000, help="bytes of output kept per notebook").tag(config=True)
    max_report_bytes = Integer(64_000_000, help="bytes of check reports kept per notebook").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped, self._total_bytes, self._report_bytes = None, 0, 0
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        self._cell_bytes, self._trimmed = 0, False
        if self._stopped:
            cell.outputs = [_error(NOT_RUN, f"not run: {self._stopped}")]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stopped = "the kernel died in an earlier cell"
            cell.outputs.append(_error(KERNEL_DIED, "the kernel died while running this cell "
                                       "(os._exit, a crash, or the memory limit)"))
        except CellTimeoutError:
            self._stopped = "an earlier cell ran past its time limit and did not stop when interrupted"
            cell.outputs.append(_error(KERNEL_STUCK, f"this cell ran longer than {self.timeout} s "
                                       "and did not stop when interrupted"))
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if msg["msg_type"] == "error":       # never dropped: an error decides the cell's grade
            content["evalue"] = str(content.get("evalue", ""))[:5000]
            content["traceback"] = [str(line)[:2000] for line in content.get("traceback", [])[-60:]]
            return super().output(outs, msg, display_id, cell_index)
        if msg["msg_type"] == "display_data" and REPORT_MIME in content.get("data", {}):
            # the checks' reports decide the grade: kept apart from the print budget, within their own
            # (a flood of them is cut, and the grader then finds the cell's checks incomplete)
            self._report_bytes += len(json.dumps(content["data"][REPORT_MIME]))
            if self._report_bytes <= self.max_report_bytes:
                content["data"] = {REPORT_MIME: content["data"][REPORT_MIME]}
                return super().output(outs, msg, display_id, cell_index)
            return None
        size = len(json.dumps(content.get("data", content.get("text", ""))))
        self._cell_bytes += size
        self._total_bytes += size
        if self._cell_bytes <= self.max_cell_output_bytes and self._total_bytes <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if not self._trimmed:
            self._trimmed = True
            outs.append(nbformat.v4.new_output("stream", name="stdout", text=(
                f"\n... output trimmed: more than {self.max_cell_output_bytes:,} bytes ...\n")))
        if content.get("name") == "stderr" and not any(o.get("name") == "stderr" for o in outs):
            outs.append(nbformat.v4.new_output("stream", name="stderr", text="... stderr trimmed ...\n"))
        return None


def _error(name: str, message: str):
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])
