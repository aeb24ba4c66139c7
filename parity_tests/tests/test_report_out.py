"""``dlparity report --out DIR`` never destroys what it did not write, changes its files together,
and stops cleanly on Ctrl-C and SIGTERM (issue 20)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from parity_tests import cli, outdir
from parity_tests.compare import compare, group_result
from parity_tests.outdir import MANIFEST, is_output_name
from parity_tests.registry import ParityCheck
from parity_tests.report import run_checks, write_outputs
from parity_tests.tolerances import tolerance

ROOT = Path(__file__).parents[2]


def _check(case: str, fail: bool = False, ran: list[str] | None = None) -> ParityCheck:
    def run(device: str, dtype: str):
        if ran is not None:
            ran.append(case)
        rec = compare("Z", np.ones(3) * (2 if fail else 1), np.ones(3), tolerance(dtype, "forward"))
        return group_result("dense", case, "forward", device, dtype, [rec])

    return ParityCheck("dense", case, "forward", run)


def _report(monkeypatch, checks, out: Path, *extra: str) -> int:
    monkeypatch.setattr("parity_tests.registry.all_checks", lambda *a, **k: checks)
    return cli.main(
        ["report", "--devices", "cpu", "--dtypes", "float64", "--no-plots", "--out", str(out), *extra]
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _staging(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".dlparity-staging")]


# --- a folder with files dlparity did not write ------------------------------------------------
def test_a_users_own_report_is_refused_before_running_and_kept(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "report.md").write_text("# my own notes\n")
    (tmp_path / "report.json").write_text('{"mine": true}')
    ran: list[str] = []
    assert _report(monkeypatch, [_check("a", ran=ran)], tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds files dlparity did not write (report.json, report.md)" in err
    assert "--force" in err and not ran
    assert (tmp_path / "report.md").read_text() == "# my own notes\n"
    assert (tmp_path / "report.json").read_text() == '{"mine": true}'
    assert _staging(tmp_path) == []


def test_force_writes_over_them_and_then_the_folder_is_dlparitys(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "report.md").write_text("# my own notes\n")
    (tmp_path / "notes.txt").write_text("keep me")
    assert _report(monkeypatch, [_check("a")], tmp_path, "--force") == 0
    assert (tmp_path / "report.md").read_text().startswith("# dlparity report")
    assert (tmp_path / "notes.txt").read_text() == "keep me"  # --force replaces only the report's names
    (tmp_path / "notes.txt").unlink()
    assert _report(monkeypatch, [_check("b")], tmp_path) == 0  # its own files are no obstacle
    assert "| dense | b |" in (tmp_path / "report.md").read_text()


def test_an_empty_or_absent_folder_is_fine(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "absent" / "deeper"):
        assert _report(monkeypatch, [_check("a")], out) == 0
        names = sorted(p.name for p in out.iterdir())
        assert names == [MANIFEST, ".dlparity.lock", "report.html", "report.json", "report.md"]


def test_a_file_edited_since_dlparity_wrote_it_is_no_longer_its(tmp_path: Path, monkeypatch, capsys) -> None:
    assert _report(monkeypatch, [_check("a")], tmp_path) == 0
    with open(tmp_path / "report.md", "a") as f:
        f.write("my comment\n")
    assert _report(monkeypatch, [_check("b")], tmp_path) == 2
    assert "did not write (report.md)" in capsys.readouterr().err
    assert (tmp_path / "report.md").read_text().endswith("my comment\n")


# --- forged and copied manifests -----------------------------------------------------------
def _sha(data: bytes) -> dict[str, object]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize(
    "files",
    [
        ["../outside.txt", "inside.png"],  # an older manifest: no checksums
        {"../outside.txt": _sha(b"outside"), "inside.png": _sha(b"inside")},
        {"OUTSIDE": _sha(b"outside"), "inside.png": _sha(b"inside")},  # an absolute path
        {"inside.png": _sha(b"inside"), "notes.txt": _sha(b"notes")},  # a name dlparity never writes
        {"inside.png": {"size": 6}},  # no checksum
    ],
    ids=["v1-list", "dotdot", "absolute", "foreign-name", "no-hash"],
)
def test_a_forged_manifest_is_ignored_with_a_warning_and_deletes_nothing(
    tmp_path: Path, monkeypatch, capsys, files
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"outside")
    out = tmp_path / "out"
    out.mkdir()
    (out / "inside.png").write_bytes(b"inside")
    (out / "notes.txt").write_bytes(b"notes")
    if isinstance(files, dict) and "OUTSIDE" in files:
        files = {str(outside): files.pop("OUTSIDE"), **files}
    data = {"files": files} if isinstance(files, list) else {"tool": "dlparity", "version": 2, "files": files}
    (out / MANIFEST).write_text(json.dumps(data))
    assert _report(monkeypatch, [_check("a")], out) == 2  # inside.png, notes.txt are not its own
    err = capsys.readouterr().err
    assert f"warning: ignoring {out / MANIFEST}" in err and "it deletes nothing" in err
    assert "did not write (inside.png, notes.txt)" in err
    assert _report(monkeypatch, [_check("a")], out, "--force") == 0
    err = capsys.readouterr().err
    assert err.count("warning: ignoring") == 1  # read before the run and at the swap, said once
    assert outside.read_bytes() == b"outside"
    assert (out / "inside.png").read_bytes() == b"inside" and (out / "notes.txt").read_bytes() == b"notes"
    files = set(json.loads((out / MANIFEST).read_text())["files"])
    assert files == {"report.html", "report.json", "report.md"}


def test_a_copied_manifest_owns_only_files_as_it_recorded_them(tmp_path: Path, monkeypatch, capsys) -> None:
    pytest.importorskip("matplotlib")
    first, second = tmp_path / "first", tmp_path / "second"
    png = "dense-a-forward-cpu-float64.png"
    monkeypatch.setattr("parity_tests.registry.all_checks", lambda *a, **k: [_figure_check("a")])
    assert cli.main(["report", "--devices", "cpu", "--dtypes", "float64", "--out", str(first)]) == 0
    assert (first / png).exists()
    second.mkdir()
    (second / MANIFEST).write_bytes((first / MANIFEST).read_bytes())
    (second / png).write_bytes(b"my own picture")
    assert _report(monkeypatch, [_check("b")], second) == 2
    assert f"did not write ({png})" in capsys.readouterr().err
    assert _report(monkeypatch, [_check("b")], second, "--force") == 0  # b draws nothing named png
    assert (second / png).read_bytes() == b"my own picture"
    assert (first / png).stat().st_size > 1000


def test_a_link_named_in_the_manifest_is_not_followed_or_deleted(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "target.png"
    target.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "link.png").symlink_to(target)
    (out / MANIFEST).write_text(
        json.dumps({"tool": "dlparity", "version": 2, "files": {"link.png": _sha(b"precious")}})
    )
    assert outdir.read_manifest(out) == (set(), None)  # a valid manifest, but the link is not its file
    assert _report(monkeypatch, [_check("a")], out) == 2
    assert _report(monkeypatch, [_check("a")], out, "--force") == 0
    assert (out / "link.png").is_symlink() and target.read_bytes() == b"precious"


@pytest.mark.parametrize(
    "name, ok",
    [
        ("report.md", True),
        ("report.json", True),
        ("dense-a-cpu.png", True),
        ("report.txt", False),
        ("../x.png", False),
        ("/tmp/x.png", False),
        ("sub/x.png", False),
        (".hidden.png", False),
        ("..", False),
        ("", False),
        ("a\\b.png", False),
        (3, False),
    ],
)
def test_the_names_a_manifest_may_hold(name, ok) -> None:
    assert is_output_name(name) is ok


# --- both or neither ---------------------------------------------------------------------
def test_a_failure_at_any_rename_of_the_swap_leaves_the_previous_pair(tmp_path: Path, monkeypatch) -> None:
    def rows(fail: bool):
        return run_checks([_check("x", fail=fail)], ["cpu"], ["float64"], progress=False)

    write_outputs(rows(False), tmp_path, plots=False)
    before = _snapshot(tmp_path)
    renames = 6  # out: report.json, report.md, the manifest; in: the same three
    for k in range(1, renames + 1):
        calls = []

        def move(src, dst, k=k, calls=calls):
            calls.append(dst)
            if len(calls) == k:
                raise OSError(28, "No space left on device")
            os.replace(src, dst)

        monkeypatch.setattr(outdir, "_move", move)
        with pytest.raises(OSError, match="No space"):
            write_outputs(rows(True), tmp_path, plots=False)
        assert _snapshot(tmp_path) == before, f"a failure at rename {k} left a mix"
        assert _staging(tmp_path) == []
    monkeypatch.undo()
    write_outputs(rows(True), tmp_path, plots=False)  # the manifest still vouches for the old pair
    assert "## Failures" in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "report.json").read_text())["counts"]["FAIL"] == 1


def test_the_cli_says_a_failed_write_changed_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    assert _report(monkeypatch, [_check("a")], tmp_path) == 0
    before = _snapshot(tmp_path)

    def move(src, dst):
        if Path(dst).name == "report.md":
            raise OSError(28, "No space left on device")
        os.replace(src, dst)

    monkeypatch.setattr(outdir, "_move", move)
    assert _report(monkeypatch, [_check("b")], tmp_path) == 1
    assert "could not write" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before and _staging(tmp_path) == []


def test_signals_wait_for_the_swap_to_finish(tmp_path: Path, monkeypatch) -> None:
    """A Ctrl-C between two renames takes effect after the last one."""
    write_outputs([], tmp_path, plots=False)
    seen = []

    def move(src, dst):
        os.replace(src, dst)
        seen.append(Path(dst).name)
        if len(seen) == 4:  # the new report.json is in place, report.md is not yet
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(outdir, "_move", move)
    rows = run_checks([_check("x", fail=True)], ["cpu"], ["float64"], progress=False)
    with pytest.raises(KeyboardInterrupt):
        write_outputs(rows, tmp_path, plots=False)
    assert "## Failures" in (tmp_path / "report.md").read_text()  # the whole new pair
    assert json.loads((tmp_path / "report.json").read_text())["counts"]["FAIL"] == 1
    assert _staging(tmp_path) == []


# --- Ctrl-C and SIGTERM on a real run ----------------------------------------------------------
_SLOW_RUN = """
import sys, time
import numpy as np
from parity_tests import cli, registry
from parity_tests.compare import compare, group_result
from parity_tests.registry import ParityCheck
from parity_tests.tolerances import tolerance

real = registry.all_checks(['activations'])[:2]

def figure(device, dtype):  # starts the drawing process
    rec = compare('Z', np.ones(3), np.ones(3), tolerance(dtype, 'forward'))
    series = [{'label': 'a', 'x': [0, 1], 'y': [1, 0], 'kind': 'line'}]
    return group_result('dense', 'fig', 'forward', device, dtype, [rec],
                        {'figure': {'title': 't', 'xlabel': 'x', 'ylabel': 'y', 'series': series}})

def slow(device, dtype):
    time.sleep(120)

registry.all_checks = lambda *a, **k: real + [ParityCheck('dense', 'fig', 'forward', figure),
                                              ParityCheck('dense', 'slow', 'forward', slow)]
raise SystemExit(cli.main(['report', '--devices', 'cpu', '--dtypes', 'float64', '--out', sys.argv[1]]))
"""


@pytest.mark.parametrize(
    "sig, to_group, status",
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c-in-a-terminal", "sigterm"],
)
def test_a_signal_stops_a_real_run_in_one_line(tmp_path: Path, sig, to_group, status) -> None:
    """Real activations checks, one that draws a figure (the drawing process is then starting or
    drawing), then one that would take two minutes: the signal arrives during it. Ctrl-C in a
    terminal reaches the whole process group, drawing process included; SIGTERM only the parent."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_RUN, str(out)],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        lines = []
        while not any(line.startswith("[  3/4]") for line in lines):
            line = proc.stderr.readline()
            assert line, f"the run ended early: {''.join(lines)}"
            lines.append(line)
        assert _staging(out)  # the run is staging its files
        os.killpg(proc.pid, sig) if to_group else proc.send_signal(sig)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == status, rest
    by = "" if sig == signal.SIGINT else " by SIGTERM"
    assert rest == f"dlparity report: interrupted{by} after 3 of 4 checks; nothing was written\n"
    assert os.listdir(out) == []  # no staging folder, no report


# --- --distributed N ---------------------------------------------------------------------
def test_distributed_ranks_beyond_the_machine_are_refused_before_running(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    ran: list[str] = []
    too_many = cli._max_ranks() + 1
    for n in (1000, too_many):
        assert _report(monkeypatch, [_check("a", ran=ran)], tmp_path, "--distributed", str(n)) == 2
        err = capsys.readouterr().err
        assert err == (
            f"dlparity: --distributed {n}: expected 2 to {too_many - 1} ranks here "
            f"(two per usable CPU core; each rank is a process)\n"
        )
    with pytest.raises(SystemExit) as exc:
        _report(monkeypatch, [_check("a", ran=ran)], tmp_path, "--distributed", "1")
    assert exc.value.code == 2 and "expected a number of ranks >= 2" in capsys.readouterr().err
    assert not ran and not (tmp_path / "report.json").exists()


def _figure_check(case: str) -> ParityCheck:
    def run(device: str, dtype: str):
        rec = compare("Z", np.ones(3), np.ones(3), tolerance(dtype, "forward"))
        series = [{"label": "a", "x": [0, 1], "y": [1, 0], "kind": "line"}]
        return group_result(
            "dense",
            case,
            "forward",
            device,
            dtype,
            [rec],
            {"figure": {"title": "t", "xlabel": "x", "ylabel": "y", "series": series}},
        )

    return ParityCheck("dense", case, "forward", run)
