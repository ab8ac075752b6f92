import satlearn


def test_top_level_names_resolve():
    for name in satlearn.__all__:
        assert getattr(satlearn, name) is not None, name
    assert satlearn.SoftTargets.__module__ == "satlearn.targets"


def test_a_name_the_package_does_not_have_is_an_attribute_error_whatever_it_looks_like():
    # the package finds its modules when first used: a name that is no module name (a dotted path, say) was looked
    # up as one, and hasattr(satlearn, "no.such") raised ModuleNotFoundError instead of answering False
    for name in ("data.SOURCES", "no_such_module", "no.such", "", "1data"):
        assert not hasattr(satlearn, name), name
    assert satlearn.data.SOURCES.names()  # a module is still found by its name


# What README.md and docs/ show, by module: a module's __all__, else every public function and class it defines, else
# the names listed. typing.get_type_hints reads the annotations as a user's tools do (pydantic, typer, jsonargparse,
# a type checker's runtime twin): a name an annotation uses but the module imports only for type checkers is a
# NameError there.
DOCUMENTED = {
    "satlearn": None, "satlearn.config": None, "satlearn.engine": None, "satlearn.targets": None,
    "satlearn.losses": None, "satlearn.selective": None, "satlearn.data": None, "satlearn.methods": None,
    "satlearn.methods.base": None, "satlearn.models": None, "satlearn.registry": None, "satlearn.errors": None,
    "satlearn.evaluation.selective": None, "satlearn.evaluation.detection": None,
    "satlearn.label_issues": ("LabelIssues", "RunTargets", "find_label_issues", "load_run_targets",
                              "write_label_issues"),
}


def documented() -> list[tuple[str, object]]:
    import importlib
    import inspect

    found = []
    for module_name, names in DOCUMENTED.items():
        module = importlib.import_module(module_name)
        if names is None:
            names = getattr(module, "__all__", None) or [
                name for name, value in vars(module).items() if not name.startswith("_")
                and (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == module_name]
        for name in names:
            value = getattr(module, name)
            if inspect.isfunction(value) or inspect.isclass(value):
                found.append((f"{module_name}.{name}", value))
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    function = getattr(member, "__func__", None) or getattr(member, "fget", None) or member
                    if inspect.isfunction(function) and (not attribute.startswith("_") or attribute == "__init__"):
                        found.append((f"{module_name}.{name}.{attribute}", function))
    return found


def test_the_annotations_of_the_documented_api_resolve_at_run_time():
    import typing

    unresolved = []
    for name, value in documented():
        try:
            typing.get_type_hints(value)
        except Exception as exc:  # noqa: BLE001 (each one named below)
            unresolved.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not unresolved
    assert len(documented()) > 100  # (the scan found the API, not an empty module list)


def test_every_device_parameter_takes_a_torch_device_and_every_path_a_pathlib_path():
    import dataclasses
    import inspect
    import typing
    from pathlib import Path

    import torch

    for name, value in documented():
        owner = getattr(inspect.getmodule(value), value.__qualname__.partition(".")[0], None)
        if not inspect.isfunction(value) or value.__name__ == "__init__" and (
                dataclasses.is_dataclass(owner) or issubclass(owner, BaseException)):
            # a config's fields are typed as a checked config holds them (a str, which a Path set in code becomes);
            # an error is made by satlearn, and its attributes typed as it makes them
            continue
        hints = typing.get_type_hints(value)
        for parameter in inspect.signature(value).parameters:
            hint = hints.get(parameter)
            taken = typing.get_args(hint) or (hint,)
            if parameter == "device":  # as run.device takes one (docs/extending.md)
                assert torch.device in taken, f"{name}({parameter}: {hint})"
            if parameter in ("run_dir", "out", "out_dir", "data_root", "path"):
                assert Path in taken and str in taken, f"{name}({parameter}: {hint})"


def test_the_registries_and_a_methods_contract_say_what_they_hold():
    # a type checker reads METHODS.get(name) as a Method class and a method's self.config as its section, not as Any
    import typing
    from collections.abc import Callable

    from torch import nn

    import satlearn.data
    import satlearn.data.base
    import satlearn.methods
    import satlearn.methods.base
    import satlearn.models
    from satlearn.config import Config, DataConfig, MethodConfig
    from satlearn.registry import Registry

    Method = satlearn.methods.Method
    assert typing.get_type_hints(satlearn.methods.base)["METHODS"] == Registry[type[Method]]
    assert typing.get_type_hints(satlearn.models)["MODELS"] == Registry[Callable[..., nn.Module]]
    assert typing.get_type_hints(satlearn.data.base)["SOURCES"] == Registry[Callable[..., satlearn.data.DatasetSplits]]
    for function, parameter, expected in ((Method.__init__, "config", MethodConfig),
                                          (satlearn.methods.TargetsMethod.__init__, "config", MethodConfig),
                                          (Method.check_config, "config", Config),
                                          (satlearn.methods.create_method, "config", MethodConfig),
                                          (satlearn.data.load_dataset, "config", DataConfig)):
        assert typing.get_type_hints(function)[parameter] is expected, function.__qualname__


def test_dir_lists_what_the_package_offers_not_its_own_imports():
    listed = dir(satlearn)
    assert set(satlearn.__all__) <= set(listed) and {"data", "engine", "selective", "losses"} <= set(listed)
    assert not {"importlib", "annotations", "TYPE_CHECKING"} & set(listed)
    assert all(hasattr(satlearn, name) for name in listed)
