"""Checking a large roster in more than one process (issue 14: an import's rate).

Checking a row (`workflow.roster.checking`) is pure Python and takes three quarters of an
import's time, so on a machine with a second core a large import lets helper processes check
part of the rows while this process checks the rest and spools them all. The rows go in blocks
of `BLOCK`, each to the process that reaches it first (`Claims`); every process reads the whole
file, but a row it does not check it only reads as far as finding the next row needs
(`workflow.roster.readers.Wanted`: no record built, no duplicate keys looked for), which costs
a fifth to a tenth of checking it.

What a helper finds comes back as the same `CheckedBatch`es this process makes, pickled over a
pipe, and goes into the same spool: the spool, the settling of repeated ids, the listed problems
and the write are those of a single-process import, so the outcome is the same row for row
(`tests/test_roster_parallel.py`). Every process meets a problem of the whole file (bad syntax,
an undecodable byte) at the same place, since each reads all of it; this process reports its
own. A helper that cannot start, or dies, is not an error of the file: `HelperLost` makes the
importer check the file again in this process alone.

A helper is ``python -m workflow.roster.parallel`` (not `multiprocessing`, whose "spawn"
re-imports the host's main module and whose "fork" copies a process whose other threads may
hold locks): its job arrives pickled on stdin, its batches leave pickled on stdout, its stderr
goes to a temporary file that is quoted when it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import select
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

import workflow
from workflow.errors import WorkflowError
from workflow.i18n import _, current_language, set_language
from workflow.roster.checking import CHECK_BATCH, CheckedBatch, checked_batches
from workflow.roster.readers import (
    PARTIAL_SUFFIXES,
    WHOLE_FILE,
    RosterError,
    RowProblem,
    open_roster,
)
from workflow.roster.vocabulary import AdminList

BLOCK = CHECK_BATCH  # rows dealt out at a time
PARALLEL_FROM_BYTES = 4 << 20  # smaller files are checked here alone: a helper starts in ~0.3 s
MAX_PROCESSES = 4  # reading the whole file in every process stops paying beyond a few
# rows per batch while helpers run, in each process: this one reads their pipes between two of
# its batches, so a helper's batch (~300 kB) must fit in a pipe and this one's take little time
BATCH = 250
_LENGTH = struct.Struct("<Q")  # before each pickled message
_PIPE_BYTES = 1 << 20  # a batch or so; Linux's default limit for an unprivileged pipe
_START_SECONDS = 60.0  # a helper not ready by then is taken as lost
_FINISH_SECONDS = 600.0  # nor one silent that long while this process waits for it


class HelperLost(WorkflowError):
    """A helper process could not start or ended without finishing its share; the caller checks
    the file again alone. Not a problem of the file, so never shown as one."""


class Claims:
    """Which process checks which block of `BLOCK` rows: the first to reach it. Skipping a block
    costs a fraction of checking it, so a process that falls behind skips the blocks the other
    has taken, catches up and takes the next one: the work balances itself, whatever else each
    process does (this one also spools every row) and however busy the machine is. A claim is a
    directory made in ``directory``, which exactly one process can make."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def wanted(self) -> _Share:
        return _Share(self.directory)


class _Share:
    """One process's side of the `Claims`, a `workflow.roster.readers.Wanted`."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.block = -1
        self.mine = False

    def __call__(self, seq: int) -> bool:
        if (seq - 1) // BLOCK != self.block:
            self._enter((seq - 1) // BLOCK)
        return self.mine

    def _enter(self, block: int) -> None:
        self.block = block
        try:
            os.mkdir(os.path.join(self.directory, str(block)))
            self.mine = True
        except FileExistsError:
            self.mine = False


def processes_for(path: Path, requested: int | None) -> int:
    """How many processes check ``path``: ``requested`` if given (1: this one alone), else as
    many as there are cores to run them (at most `MAX_PROCESSES`) for a text file of at least
    `PARALLEL_FROM_BYTES`. A workbook is always read here alone: openpyxl's parsing, which
    every process would repeat, is most of its cost."""
    if path.suffix.lower() not in PARTIAL_SUFFIXES:
        return 1
    if requested is not None:
        return max(1, requested)
    try:
        if path.stat().st_size < PARALLEL_FROM_BYTES:
            return 1
    except OSError:
        return 1  # the reader names the problem
    return max(1, min(_cores(), MAX_PROCESSES))


def _cores() -> int:
    """The cores this process may run on (Linux: its affinity, as a container sets it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


class _Pipe:
    """What one helper has sent: its output pipe read without blocking (its bytes kept until a
    whole message is there), and where it is."""

    def __init__(self, share: int, process: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
        self.share = share
        self.process = process
        self.errors = errors
        assert process.stdout is not None
        self.fd = process.stdout.fileno()
        os.set_blocking(self.fd, False)
        resize = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux's
        if resize is not None:
            with contextlib.suppress(OSError):  # a larger pipe: the helper rarely waits for us
                fcntl.fcntl(self.fd, resize, _PIPE_BYTES)
        self.buffer = bytearray()
        self.eof = False
        self.ready = False
        self.ended: int | None = None  # rows of the file it read, once done
        self.fatal: tuple[RowProblem, ...] | None = None

    @property
    def finished(self) -> bool:
        return self.ended is not None or self.fatal is not None

    def messages(self) -> Iterator[tuple[Any, ...]]:
        """The messages complete so far; at the end of its output, `HelperLost` unless it
        finished."""
        while not self.eof:
            try:
                chunk = os.read(self.fd, _PIPE_BYTES)
            except BlockingIOError:
                break
            if not chunk:
                self.eof = True
            self.buffer += chunk
        buffer = self.buffer
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, start)
            end = start + _LENGTH.size + size
            if len(buffer) < end:
                break
            message = pickle.loads(memoryview(buffer)[start + _LENGTH.size : end])
            start = end
            yield message
        del buffer[:start]
        if self.eof and not self.finished:
            raise HelperLost(self.why())

    def why(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.errors.seek(0)
        tail = self.errors.read()[-2000:].decode("utf-8", "replace").strip()
        return f"helper {self.share} ended (exit {code}): {tail or 'no output'}"


class Helpers:
    """The helper processes of one import (module note), as a context manager: `start` them,
    take their batches with `poll` while checking this process's share and with `finish` at
    the end; leaving the block stops any still running. Their output is read in this thread,
    between batches: a reader thread would wait for the GIL after every read of the pipe
    (5 ms each while this thread checks rows), and the helpers for it."""

    def __init__(
        self, path: Path, *, name: str, today: date, admin: AdminList, processes: int
    ) -> None:
        self._claims = tempfile.mkdtemp(prefix="convalescence-claims-")
        self.claims = Claims(self._claims)
        self._job = {
            "path": str(path.resolve()),
            "name": name,
            "today": today,
            "admin": admin,
            "claims": self._claims,
            "language": current_language(),
        }
        self._count = processes - 1
        self._pipes: list[_Pipe] = []
        self._early: list[CheckedBatch] = []  # sent while others were not yet ready

    def __enter__(self) -> Helpers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start every helper and wait until each has its job; `HelperLost` if one cannot."""
        if not sys.executable:
            raise HelperLost(_("找不到 Python 解释器，无法启动辅助进程"))
        package_root = str(Path(workflow.__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (package_root, path)))}
        for share in range(1, self._count + 1):
            errors = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close()
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", __name__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=env,
                )
            except OSError as error:
                errors.close()
                raise HelperLost(str(error)) from error
            self._pipes.append(_Pipe(share, process, errors))
            assert process.stdin is not None
            with contextlib.suppress(OSError):  # it died at once: its stderr will say why
                pickle.dump({**self._job, "share": share}, process.stdin)
                process.stdin.close()
        while not all(pipe.ready for pipe in self._pipes):
            self._early.extend(self._taken(wait=_START_SECONDS))

    def poll(self) -> Iterator[CheckedBatch]:
        """The batches the helpers have sent so far, without waiting."""
        early, self._early = self._early, []
        yield from early
        yield from self._taken(wait=None)

    def finish(self, rows: int) -> Iterator[CheckedBatch]:
        """Every batch still to come, waiting for the helpers to end. ``rows`` is how many rows
        this process read: a helper that read another number (or that met a problem of the
        whole file this process did not meet) read another file, which changed meanwhile."""
        yield from self.poll()
        while not all(pipe.finished for pipe in self._pipes):
            yield from self._taken(wait=_FINISH_SECONDS)
        name = str(self._job["name"])
        for pipe in self._pipes:
            if pipe.fatal is not None:
                raise RosterError(name, pipe.fatal)
            if pipe.ended != rows:
                raise RosterError(name, [_changed(name)])

    def close(self) -> None:
        for pipe in self._pipes:
            if pipe.process.poll() is None:
                pipe.process.kill()
            pipe.process.wait()
            if pipe.process.stdout is not None:
                pipe.process.stdout.close()
            pipe.errors.close()
        shutil.rmtree(self._claims, ignore_errors=True)

    def _taken(self, *, wait: float | None) -> Iterator[CheckedBatch]:
        """The batches complete in the pipes; with ``wait``, first wait up to that many seconds
        for any of them to have more (`HelperLost` when none had any)."""
        open_pipes = [pipe for pipe in self._pipes if not pipe.eof]
        if wait is not None and open_pipes:
            readable, _w, _x = select.select([pipe.fd for pipe in open_pipes], [], [], wait)
            if not readable:
                raise HelperLost(f"no word from a helper in {wait:.0f} s")
        for pipe in self._pipes:
            for message in pipe.messages():
                kind = message[0]
                if kind == "ready":
                    pipe.ready = True
                elif kind == "batch":
                    batch: CheckedBatch = message[1]
                    if batch.done:
                        pipe.ended = batch.seq
                    yield batch
                elif kind == "fatal":
                    pipe.fatal = message[1]


def _changed(name: str) -> RowProblem:
    return RowProblem(name, WHOLE_FILE, "file", _("文件在导入过程中被改动；请重新导入"))


def main() -> None:
    """A helper's life: read the job, say "ready", check its share, send each batch."""
    job = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer

    def send(message: tuple[Any, ...]) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_LENGTH.pack(len(payload)))
        out.write(payload)
        out.flush()

    set_language(job["language"])
    send(("ready",))
    wanted = Claims(job["claims"]).wanted()
    try:
        with open_roster(Path(job["path"]), shown_as=job["name"], wanted=wanted) as source:
            for batch in checked_batches(
                source, today=job["today"], name=job["name"], admin=job["admin"], size=BATCH
            ):
                send(("batch", batch))
    except RosterError as error:
        send(("fatal", error.problems))


if __name__ == "__main__":
    main()
