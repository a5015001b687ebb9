"""Where a student's kernel runs: a bubblewrap sandbox that sees only its own folder.

The kernel is started through a kernelspec of our own whose command wraps ipykernel in
`bwrap`: a private mount namespace with the operating system, the Python environment, the
helper library and data/ read-only, the notebook's own folder read-write, an empty /tmp, no
network (a private network namespace; the kernel talks to nbclient over Unix sockets), its own
process tree, and a memory limit. Everything else (solutions/, the gradebook and its hidden
tests, other students' work, the rest of the disk) is simply not there.

Where bubblewrap is missing or cannot create namespaces, grading goes on in a degraded mode:
the same limits where they can be set, but no isolation, and a warning says so.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

KERNEL_NAME = "mmgrade-sandbox"
MEMORY_LIMIT = 6 * 2**30        # bytes of address space for a kernel (the reference run needs about 3.5 GiB)
SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/sys"]


@functools.lru_cache(maxsize=None)
def bubblewrap() -> str | None:
    """The bwrap command if it is installed and can build a sandbox here, else None."""
    command = shutil.which("bwrap")
    if command is None:
        return None
    probe = [command, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent", "true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return command if ok else None


# The librosa calls of the notebooks. librosa compiles numba functions; numba loads a compiled one
# from its cache only where it may also write, and the environment is read-only in the sandbox, so
# every kernel would compile them again (about 10 s of a 30 s notebook). The grader compiles them
# once, itself, and gives each kernel a private, writable copy: nothing a student's kernel writes
# there reaches another one.
NUMBA_WARMUP = """
import numpy as np, librosa
y = 0.1 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
librosa.effects.trim(librosa.resample(y, orig_sr=16000, target_sr=8000), top_db=40)
librosa.pyin(y, fmin=60, fmax=400, sr=8000, frame_length=1024)
librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=8000, n_fft=512, hop_length=128, n_mels=64))
librosa.feature.inverse.mel_to_audio(librosa.feature.melspectrogram(y=y, sr=8000), sr=8000, n_iter=2)
librosa.mu_expand(librosa.mu_compress(np.clip(y, -1, 1), quantize=True), quantize=True)
"""


# In the environment itself: numba's cache entries name the source files' paths, so a cache serves
# one environment only (a second checkout with its own .venv needs its own).
NUMBA_CACHE_HOME = Path(sys.prefix) / "var" / "mmkit-grader-numba"


def numba_cache(folder: Path = NUMBA_CACHE_HOME) -> Path | None:
    """A numba cache of the librosa functions, compiled once per librosa and numba version under
    `folder` (shared by every course graded from this environment); None where librosa is not
    installed, the folder is not writable or the compilation fails (kernels then compile for themselves)."""
    try:
        versions = f"librosa-{metadata.version('librosa')}-numba-{metadata.version('numba')}"
    except metadata.PackageNotFoundError:
        return None
    cache = folder / versions
    if (cache / ".ready").exists():
        return cache
    try:
        folder.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{versions}-", dir=folder))
    except OSError:                      # no writable cache folder: kernels compile for themselves
        return None
    env = dict(os.environ, NUMBA_CACHE_DIR=str(building), OMP_NUM_THREADS="1")
    try:
        subprocess.run([sys.executable, "-c", NUMBA_WARMUP], env=env, capture_output=True, timeout=600, check=True)
    except (OSError, subprocess.SubprocessError):
        shutil.rmtree(building, ignore_errors=True)
        return None
    (building / ".ready").touch()
    try:
        building.rename(cache)           # atomic: a grader running beside this one keeps its own
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return cache if (cache / ".ready").exists() else None


def setup_message() -> str:
    """What `make setup` says about the sandbox (and prepares for it): one line either way."""
    if bubblewrap() is None:
        why = "is not installed" if shutil.which("bwrap") is None else "cannot create namespaces here"
        return (f"sandbox: bubblewrap {why}, so the grader will run student code WITHOUT a sandbox "
                "(install it: sudo apt-get install bubblewrap; in a container, allow unprivileged user namespaces)")
    cache = numba_cache()
    return ("sandbox: bubblewrap found; student code is graded in a sandbox"
            + ("" if cache else " (librosa could not be compiled ahead: each kernel compiles it, slower)"))


def give_numba_cache(numba: Path | None, runtime: Path) -> None:
    """The kernel's private copy of the warm cache (made when it is about to start, not earlier:
    a class of hundreds waits in the queue without hundreds of copies)."""
    if numba is not None:
        shutil.copytree(numba, runtime / "numba-cache")


def readable_paths() -> list[Path]:
    """What a kernel needs to read: the Python installation, the environment, mmkit, data/."""
    import mmkit
    from mmkit.data import data_dir
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(mmkit.__file__).resolve().parents[1], data_dir().resolve()}
    return sorted(p.resolve() for p in paths)


def kernel_command(scratch: Path, runtime: Path, memory: int = MEMORY_LIMIT,
                   numba: Path | None = None) -> tuple[list[str], bool]:
    """The kernelspec argv for a kernel working in `scratch`; and whether it is sandboxed. With
    `numba` (a warm cache from numba_cache), the kernel uses its private copy in `runtime`."""
    python = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    limits = ["prlimit", f"--as={memory}", "--core=0", "--"] if shutil.which("prlimit") else []
    bwrap = bubblewrap()
    if bwrap is None:
        return limits + python, False
    # --die-with-parent: the sandbox goes when the worker is killed (a notebook past its time).
    # JPY_PARENT_PID unset: in its own process tree the kernel's parent is pid 1, which ipykernel
    # would take for a dead parent and shut down.
    argv = [bwrap, "--die-with-parent", "--unsetenv", "JPY_PARENT_PID", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]   # first: later binds may lie under /tmp
    for path in SYSTEM_PATHS:
        argv += ["--ro-bind-try", path, path]
    for path in readable_paths():
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(scratch), str(scratch), "--bind", str(runtime), str(runtime),
             "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib",
             "--chdir", str(scratch)]
    if numba is not None:       # copied there by give_numba_cache just before the kernel starts
        argv += ["--setenv", "NUMBA_CACHE_DIR", str(runtime / "numba-cache")]
    return argv + ["--"] + limits + python, True


def install_kernelspec(jupyter_dir: Path, argv: list[str]) -> None:
    """Write kernels/<KERNEL_NAME>/kernel.json under a JUPYTER_PATH folder."""
    folder = jupyter_dir / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    # interrupts as messages: a signal to the process would reach bwrap, not the kernel inside
    spec = {"argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python",
            "interrupt_mode": "message", "metadata": {"debugger": False}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
