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
