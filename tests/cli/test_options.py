"""The CLI's shared options (resbench.cli.options): training options generated from TrainConfig's fields."""

from resbench.train.config import TrainConfig


def test_cli_training_options_are_generated_from_trainconfig():
    """The CLI's training options take TrainConfig's defaults (shown in --help, never copied),
    a command line with none of them builds exactly TrainConfig(), and the options given are
    the ones named in ``given``."""
    import dataclasses

    from typer.testing import CliRunner

    from resbench.cli.app import build_app
    from resbench.cli.options import _TRAIN_PARAMS, _training

    params = _TRAIN_PARAMS
    api_defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    names = {n for n, *_ in params} - {"threads"}  # every option is named after its field
    assert set(api_defaults) - names == {"momentum", "weight_decay"}  # the paper's, not options
    for name, tp, default, opt in params:
        field = name
        if tp is bool:
            assert default == api_defaults[field]
        else:
            assert default is None  # not given
            if api_defaults.get(field) is not None:
                assert opt.help.endswith(f"\\[default: {api_defaults[field]}]")
    built = _training({name: default for name, _, default, _ in params})
    assert built.config == TrainConfig() and built.config.download is True
    assert built.given == frozenset() and built.threads is None
    given = _training({**{name: default for name, _, default, _ in params}, "epochs": 10, "schedule": "linear", "threads": 1})
    assert given.given == {"epochs", "schedule"} and given.threads == 1
    assert given.config == TrainConfig(schedule="linear")
    help_text = CliRunner().invoke(build_app(), ["train", "--help"], env={"COLUMNS": "200"}).output
    assert "[default: 10]" in help_text and "[default: step]" in help_text
