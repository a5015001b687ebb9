"""nbconvert preprocessors the kit adds to nbgrader's feedback step."""
from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.preprocessors.base import NbGraderPreprocessor
from traitlets import Integer

HIDDEN_NOTE = "(the failing check is a hidden test: its code is not shown, only its message)"


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
    passes it) and drop images larger than max_image_bytes."""

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
                else:
                    output.data[mime] = self._trim(value)
        return cell, resources
