"""`python -m closecast.serve` takes uvicorn's usual options beside the environment: an option wins over
its variable and is checked as the variable is."""

from __future__ import annotations

import os

import uvicorn

from closecast.serving.run import FLAGS, main


def test_options_set_the_server_settings_and_win_over_the_environment(monkeypatch, tmp_path):
    for name in FLAGS.values():  # restored after the test, whatever main sets
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("PORT", "9999")
    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.update(kwargs))
    args = [
        "--host",
        "0.0.0.0",
        "--port",
        "9123",
        "--checkpoints-dir",
        str(tmp_path),
        "--reload-interval",
        "2",
    ]
    assert main(args) == 0
    assert (started["host"], started["port"], started["workers"]) == ("0.0.0.0", 9123, 1)
    # The app (in each worker) reads its checkpoints directory and reload interval from the environment.
    assert (os.environ["CHECKPOINTS_DIR"], os.environ["RELOAD_INTERVAL"]) == (str(tmp_path), "2")


def test_a_bad_option_is_one_line_naming_its_setting(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "")
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    assert main(["--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: PORT='0' is not valid") and err.count("\n") == 1
