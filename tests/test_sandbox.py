"""The sandbox's numba cache: librosa's compiled functions reach every kernel, privately."""
import os
import subprocess
import sys

import pytest

from grader import sandbox

pytestmark = pytest.mark.skipif(sandbox.bubblewrap() is None,
                                reason="bubblewrap is not available here (Debian: apt-get install bubblewrap)")


def sandboxed_python(tmp_path, code: str, numba) -> subprocess.CompletedProcess:
    """Run `code` with the kernel's sandbox and limits, but plain python instead of ipykernel."""
    scratch, runtime = tmp_path / "scratch", tmp_path / "runtime"
    scratch.mkdir()
    runtime.mkdir()
    argv, sandboxed = sandbox.kernel_command(scratch, runtime, numba=numba)
    assert sandboxed
    sandbox.give_numba_cache(numba, runtime)
    command = argv[: argv.index(sys.executable)] + [sys.executable, "-c", code]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1", "NUMBA_DEBUG_CACHE": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_kernels_load_librosa_from_the_warm_cache_and_compile_nothing(tmp_path):
    cache = sandbox.numba_cache()
    assert cache is not None and (cache / ".ready").exists()
    files = sorted(p.relative_to(cache) for p in cache.rglob("*.nbi"))
    assert files, "the warm-up compiled nothing"
    run = sandboxed_python(tmp_path, "import numpy as np, librosa\n"
                                     "librosa.resample(np.zeros(1600, dtype=np.float32), orig_sr=16000, target_sr=8000)\n", cache)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "data loaded" in run.stdout, run.stdout[-2000:]
    assert "data saved" not in run.stdout, "a kernel compiled a function the warm-up should have compiled"
    # the kernel's copy is its own: what it writes there does not reach the shared cache
    private = tmp_path / "runtime" / "numba-cache"
    assert sorted(p.relative_to(private) for p in private.rglob("*.nbi")) == files
    (private / "poisoned.nbi").write_text("x")
    assert not (cache / "poisoned.nbi").exists()


def test_without_the_cache_a_kernel_compiles(tmp_path):
    """Why the cache exists: in the read-only environment numba cannot use librosa's own cache."""
    run = sandboxed_python(tmp_path, "import numpy as np, librosa\n"
                                     "librosa.resample(np.zeros(1600, dtype=np.float32), orig_sr=16000, target_sr=8000)\n", None)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "data loaded" not in run.stdout


def test_an_unusable_cache_folder_means_no_cache_not_a_failure(tmp_path):
    blocked = tmp_path / "a-file"          # a file where the folder should be: even root cannot mkdir there
    blocked.write_text("")
    assert sandbox.numba_cache(blocked / "numba") is None
