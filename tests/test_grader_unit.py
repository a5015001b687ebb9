"""Pieces of the grader that need no notebook run: collecting, feedback scrubbing, reasons."""
from pathlib import Path

import nbformat

from grader.autograde import Job, backup_gradebook, cell_passed, failure_reason, score
from grader.collect import collect
from grader.course import Course, Record, valid_student_id
from grader.preprocessors import HIDDEN_NOTE, HideHiddenTests, TrimOutputs


def graded_cell(source, outputs):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "t",
                                 "points": 1, "schema_version": 3}
    cell.outputs = outputs
    return cell


def test_hidden_tests_leave_source_and_traceback():
    error = nbformat.v4.new_output("error", ename="CheckFailed", evalue="loss: wrong value",
                                   traceback=["  File cell, line 4", "    assert secret_reference == 42"])
    cell = graded_cell("check(a)\n### BEGIN HIDDEN TESTS\nassert secret_reference == 42\n### END HIDDEN TESTS", [error])
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "secret_reference" not in cell.source
    assert cell.outputs[0].traceback == ["CheckFailed: loss: wrong value", HIDDEN_NOTE]


def test_visible_only_cells_keep_their_traceback():
    error = nbformat.v4.new_output("error", ename="E", evalue="v", traceback=["line 1", "line 2"])
    cell, _ = HideHiddenTests().preprocess_cell(graded_cell("check(a)", [error]), {}, 0)
    assert cell.outputs[0].traceback == ["line 1", "line 2"]


def test_trim_counts_bytes_not_lines():
    huge = nbformat.v4.new_output("stream", name="stdout", text="x" * 5_000_000)
    image = nbformat.v4.new_output("display_data", data={"image/png": "A" * 3_000_000, "text/plain": "fig"})
    cell = nbformat.v4.new_code_cell("print('x' * 5_000_000)")
    cell.outputs = [huge, image]
    cell, _ = TrimOutputs().preprocess_cell(cell, {}, 0)
    assert len(cell.outputs[0].text) < 25_000 and "5,000,000 bytes" in cell.outputs[0].text
    assert "image/png" not in cell.outputs[1].data


def test_trim_keeps_html_whole_or_leaves_it_out():
    """An audio player is a data URI of tens of kB: cut at the text budget it would not play."""
    player = '<audio controls="controls"><source src="data:audio/wav;base64,' + "A" * 60_000 + '" type="audio/wav" /></audio>'
    table = "<table>" + "<tr><td>x</td></tr>" * 200_000 + "</table>"
    cell = nbformat.v4.new_code_cell("display(Audio(...)); display(HTML(...))")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": player, "text/plain": "audio"}),
                    nbformat.v4.new_output("display_data", data={"text/html": table, "text/plain": "table"})]
    cell, _ = TrimOutputs().preprocess_cell(cell, {}, 0)
    assert cell.outputs[0].data["text/html"] == player
    assert "text/html" not in cell.outputs[1].data and cell.outputs[1].data["text/plain"] == "table"


def test_collect_takes_files_and_folders(tmp_path):
    course = Course(tmp_path / "course")
    inbox = tmp_path / "inbox"
    (inbox / "bob").mkdir(parents=True)
    (inbox / "alice.ipynb").write_text("{}")
    (inbox / "bob" / "clip.ipynb").write_text("{}")
    (inbox / "Bad Name!.ipynb").write_text("{}")
    (inbox / "...ipynb").write_text("{}")
    students = collect(course, "clip", inbox)
    assert students == ["alice", "bad-name", "bob"]
    assert course.submitted("clip", "alice").is_file() and course.students("clip") == students


def test_student_ids():
    assert valid_student_id("s123_ab.c-d")
    for bad in ["", "../x", "a/b", ".hidden", "x" * 65, "a b"]:
        assert not valid_student_id(bad)


def test_failure_reasons(tmp_path):
    def run(text, timed_out=False):
        return Job("s", workspace=tmp_path, returncode=1, timed_out=timed_out, output=text)
    assert "longer than 30 s" in failure_reason(run("", timed_out=True), 30)
    assert "not valid JSON" in failure_reason(run("nbformat.reader.NotJSONError: ..."), 30)
    assert "kernel died" in failure_reason(run("DeadKernelError: Kernel died"), 30)
    assert failure_reason(run("something odd\nValueError: odd"), 30) == "grading failed: ValueError: odd"


def test_gradebook_backup(tmp_path):
    course = Course(tmp_path)
    assert backup_gradebook(course) is None
    course.work.mkdir(parents=True)
    (course.work / "gradebook.db").write_bytes(b"db")
    backup = backup_gradebook(course)
    assert backup.read_bytes() == b"db"


def test_record_round_trip(tmp_path):
    record = Record("s", "clip", "graded", "", 3.0, 5.0, {"t": {"score": 3.0, "max_score": 5.0}}, 1.5)
    record.save(tmp_path / "s.json")
    assert Record.load(tmp_path / "s.json") == record


def test_the_kernels_side_of_a_score_comes_from_errors_and_stderr_only():
    release = nbformat.v4.new_notebook()
    release.cells = [graded_cell("check(a)", []) for _ in range(4)]
    for i, cell in enumerate(release.cells):
        cell.metadata.nbgrader["grade_id"] = f"t{i}"
        cell.metadata.nbgrader["points"] = 2
    executed = nbformat.from_dict(nbformat.v4.new_notebook())
    executed.cells = [nbformat.from_dict(dict(c)) for c in release.cells]
    for cell in executed.cells:
        cell.execution_count = 1
    executed.cells[1].outputs = [nbformat.v4.new_output("error", ename="E", evalue="", traceback=[])]
    executed.cells[2].outputs = [nbformat.v4.new_output("stream", name="stderr", text="warning")]
    executed.cells[3].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "100"}, execution_count=1)]
    scored = score(executed, release, golden={})
    assert {gid: points for gid, (points, _) in scored.items()} == {"t0": 2.0, "t1": 0.0, "t2": 0.0, "t3": 2.0}
    assert "stderr" in scored["t2"][1] and scored["t1"][1].startswith("E")
    executed.cells[0].execution_count = None
    assert not cell_passed(executed.cells[0])


def test_worker_server_forks_workers_and_reports_their_exit(tmp_path):
    from grader.autograde import WorkerServer
    from grader.worker import OUTPUT
    with WorkerServer() as server:
        pids = [server.start([str(tmp_path), "30"], {"PATH": "/usr/bin:/bin"}) for _ in range(2)]
        codes = [server.wait(pid, 60) for pid in pids]
    assert len(set(pids)) == 2 and codes == [1, 1]    # no notebook in the workspace: it fails, and says so
    assert "submitted.ipynb" in (tmp_path / OUTPUT).read_text()
    assert server.process.returncode == 0


def test_worker_server_starts_only_when_a_worker_is_asked_for():
    from grader.autograde import WorkerServer
    with WorkerServer() as server:
        pass
    assert server.process is None


def test_a_grader_error_on_one_submission_becomes_its_failed_record(tmp_path):
    from grader.autograde import finish_safely, prepare
    course = Course(tmp_path / "course")                   # no gradebook, no release: every step fails
    job = prepare(course, "clip", "ann", nbformat.v4.new_notebook(), nbformat.v4.new_notebook())
    assert "could not be read" in job.rejected and job.workspace is None
    record = finish_safely(course, "clip", job, nbformat.v4.new_notebook(), {}, 30)
    assert record.status == "failed" and "could not score" in record.reason
    assert Record.load(course.record("clip", "ann")).status == "failed"


def test_without_bubblewrap_setup_and_every_table_row_say_so(monkeypatch, capsys):
    from grader import cli, sandbox
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)
    message = sandbox.setup_message()
    assert "WITHOUT a sandbox" in message and "apt-get install bubblewrap" in message and "\n" not in message
    argv, sandboxed = sandbox.kernel_command(Path("/tmp/x"), Path("/tmp/y"))
    assert not sandboxed and "bwrap" not in " ".join(argv)
    cli.print_table([Record("ann", "clip", "graded", sandboxed=False), Record("bob", "clip", "failed", "not JSON")])
    lines = capsys.readouterr().out.splitlines()
    assert "graded without a sandbox" in next(l for l in lines if l.startswith("ann"))
    assert "sandbox" not in next(l for l in lines if l.startswith("bob"))


def test_cells_parse_safely_from_many_threads():
    """CPython 3.11's AST constructor shares one recursion counter between threads: parsing from
    the grader's thread pools while garbage collection switches threads raised SystemError in a
    real run. pysource serialises the parses; the raw parser fails this same load."""
    import ast
    from concurrent.futures import ThreadPoolExecutor
    from grader import pysource

    class Cyclic:                                 # collected by the gc, which may switch threads
        def __del__(self):
            [i for i in range(50)]

    source = "\n".join(f"def f{i}(x):\n    return [[y + {i} for y in z] for z in x if z]" for i in range(300))

    def parse_under_load(parse):
        errors = 0
        for _ in range(20):
            for _ in range(200):
                garbage = Cyclic()
                garbage.self = garbage
            try:
                parse(source)
            except SystemError:
                errors += 1
        return errors

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(parse_under_load, [pysource.parse] * 8)) == 0


def test_the_grader_parses_python_only_through_pysource():
    grader = Path(__file__).parents[1] / "grader"
    for path in grader.glob("*.py"):
        if path.name != "pysource.py":
            text = path.read_text()
            assert "ast.parse(" not in text and "symtable.symtable(" not in text, \
                f"{path.name} parses Python outside grader/pysource.py (not thread-safe on 3.11)"


def test_class_report_shows_where_the_class_struggled(tmp_path):
    from grader.report import report
    course = Course(tmp_path / "course")
    release = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("**Task 1.** Write `f`."),
                                              graded_cell("check(f)", []),
                                              nbformat.v4.new_markdown_cell("**Task 2.** Write `g`."),
                                              graded_cell("check(g)", [])])
    release.cells[1].metadata["nbgrader"]["grade_id"] = "test_f"
    release.cells[3].metadata["nbgrader"]["grade_id"] = "test_g"
    course.release("quiz").parent.mkdir(parents=True)
    nbformat.write(release, str(course.release("quiz")))
    cells = lambda f, g: {"test_f": {"score": f, "max_score": 1.0}, "test_g": {"score": g, "max_score": 1.0}}
    records = [Record("ann", "quiz", "graded", score=2, max_score=2, cells=cells(1, 1), seconds=3.0),
               Record("bob", "quiz", "graded", score=1, max_score=2, cells=cells(1, 0), seconds=4.0),
               Record("cy", "quiz", "graded", score=1, max_score=2, cells=cells(1, 0), seconds=41.5),
               Record("dee", "quiz", "failed", reason="ran longer than 30 s: an infinite loop?", max_score=2,
                      cells=cells(0, 0), seconds=30.0),
               Record("eve", "quiz", "flagged", reason="reads the reference solution", max_score=2,
                      cells=cells(0, 0), seconds=2.0)]
    for record in records:
        record.save(course.record("quiz", record.student))
    page = report(course, "quiz").read_text()
    assert page.count('src="data:image/png;base64,') == 3, "score histogram, pass rates, seconds: embedded"
    assert "http" not in page, "self-contained: nothing to fetch"
    # hardest first: test_g (1 of 3 graded submissions with full marks), named by its task
    assert page.index("test_g") < page.index("test_f") and "Task 2" in page and "33%" in page
    assert "infinite loop" in page and "reads the reference solution" in page
    slowest = page[page.index("<h2>Time</h2>"):]
    assert slowest.index("cy") < slowest.index("dee") < slowest.index("bob")
    try:
        report(course, "other")
    except SystemExit as error:
        assert "autograde" in str(error)
    else:
        raise AssertionError("a report without records must say what to run")
