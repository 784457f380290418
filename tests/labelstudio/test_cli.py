"""``python -m gt_provider.labelstudio``: the commands against the session's real server."""

from __future__ import annotations

import json
import sys

import pytest

from gt_provider.labelstudio import server
from gt_provider.labelstudio.__main__ import main


def test_run_gives_the_command_the_connection_and_leaves_a_running_server_running(
    label_studio_server, tmp_path, capsys
):
    out = tmp_path / "env.json"
    script = (  # the hook, from the environment the run gave it, asks the server who it is
        "import json, sys; from gt_provider.hooks.label_studio import LabelStudioHook; "
        "client = LabelStudioHook().client; "
        "json.dump({'url': client.url, 'user': client.whoami()['email']}, open(sys.argv[1], 'w'))"
    )
    data_dir = label_studio_server.data_dir

    code = main(["run", "--data-dir", data_dir, "--annotators", "0", "--", sys.executable, "-c", script, str(out)])

    assert code == 0
    seen = json.loads(out.read_text())
    assert seen["url"] == label_studio_server.url and seen["user"] == label_studio_server.username
    printed = capsys.readouterr().out
    assert f"log in as {label_studio_server.username} / {label_studio_server.password}" in printed
    reported = [line for line in printed.splitlines() if line.startswith("Label Studio project ")]
    assert reported == []  # the run created no project; earlier tests' projects are not its own
    assert server.status(data_dir) is not None  # it was running before the run: still running


def test_run_passes_on_the_commands_exit_code(label_studio_server):
    assert main(["run", "--data-dir", label_studio_server.data_dir, "--annotators", "0", "--", "false"]) == 1


@pytest.mark.parametrize("argv", [["run"], ["run", "--"], ["status", "--", "true"]])
def test_a_command_to_run_is_asked_for_with_run_and_only_with_run(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "give the command to run after -- (run), and only then" in capsys.readouterr().err


def test_a_terminated_run_kills_its_command_and_stops_the_server_it_started(tmp_path):
    # A CI timeout or `kill` sends SIGTERM: the run must not leave its server (or its command) behind.
    import os
    import signal
    import subprocess
    import time

    data_dir = tmp_path / "label-studio"
    marker = tmp_path / "command-started"
    command = [sys.executable, "-c", f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(600)"]
    cli = [sys.executable, "-m", "gt_provider.labelstudio", "run", "--data-dir", str(data_dir), "--annotators", "0"]
    run = subprocess.Popen(
        [*cli, "--", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert marker.exists(), run.stderr.read().decode() if run.poll() is not None else "the command never started"
        running = server.status(data_dir)
        assert running is not None

        run.send_signal(signal.SIGTERM)

        assert run.wait(timeout=60) == 128 + signal.SIGTERM
        assert server.status(data_dir) is None
        with pytest.raises(ProcessLookupError):
            os.kill(running.pid, 0)
        leftover = subprocess.run(["pgrep", "-f", str(marker)], capture_output=True, text=True).stdout
        assert leftover == ""  # the command was killed with the run
    finally:
        if run.poll() is None:
            run.kill()
        server.stop(data_dir)
