import importlib
import sys

import pytest

from satlearn.errors import ConfigError
from satlearn.registry import Registry

MODULE = '''
from satlearn.registry import Registry

THINGS = Registry("thing")


@THINGS.register("first")
def build():
    return 1
'''


def test_a_definition_registered_again_replaces_itself_and_another_under_its_name_is_refused(tmp_path, monkeypatch):
    (tmp_path / "satlearn_things_for_test.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = importlib.import_module("satlearn_things_for_test")
        things = module.THINGS
        cell = MODULE.split("\n\n\n")[1].replace("return 1", "return 2")  # the cell edited and run again
        exec(compile(cell, str(tmp_path / "cell"), "exec"), {"THINGS": things, "__name__": "satlearn_things_for_test"})
        assert things.names() == ["first"] and things.get("first")() == 2  # the new definition replaced the old

        def build():  # another definition (here a nested one) under a taken name
            return 2

        with pytest.raises(KeyError, match=r"thing 'first' is registered twice: satlearn_things_for_test\.build and "
                                           r".*<locals>\.build"):
            things.register("first")(build)
        with pytest.raises(KeyError, match="registered twice"):
            things.register("first")(lambda: 3)
        assert things.get("first")() == 2
    finally:
        sys.modules.pop("satlearn_things_for_test", None)


def test_two_lambdas_or_nested_definitions_are_never_taken_for_one_another():
    things = Registry("thing")
    things.register("a")(lambda: 1)
    with pytest.raises(KeyError, match="registered twice"):
        things.register("a")(lambda: 2)
    with pytest.raises(ConfigError, match=r"unknown thing 'b'; choose from: a"):
        things.get("b")


def test_the_same_name_defined_in_another_module_or_in_a_class_is_another_definition():
    things = Registry("thing")
    first, second = {"__name__": "plugin_a"}, {"__name__": "plugin_b"}
    for namespace in (first, second):
        exec("def build():\n    return 1\n", namespace)
    things.register("first")(first["build"])
    with pytest.raises(KeyError, match=r"thing 'first' is registered twice: plugin_a\.build and plugin_b\.build"):
        things.register("first")(second["build"])
    exec("class Holder:\n    @staticmethod\n    def build():\n        return 2\n", first)
    with pytest.raises(KeyError, match=r"'first' is registered twice: plugin_a\.build and plugin_a\.Holder\.build"):
        things.register("first")(first["Holder"].build)  # the same module, but a class's function of that name


def test_objects_without_a_qualified_name_are_never_taken_for_one_another():
    import functools

    things = Registry("thing")
    things.register("a")(functools.partial(int, "1"))
    with pytest.raises(KeyError, match=r"thing 'a' is registered twice: functools\.partial\(<class 'int'>, '1'\) and "):
        things.register("a")(functools.partial(int, "2"))


def test_registering_hands_back_the_object_and_names_are_listed_sorted_whatever_the_order_they_came_in():
    things = Registry("thing")

    def build():
        return 1

    assert things.register("zeta")(build) is build  # the decorated name still names the definition
    things.register("alpha")(lambda: 2)
    assert things.names() == ["alpha", "zeta"] and list(things) == ["alpha", "zeta"]
    with pytest.raises(ConfigError, match=r"^unknown thing 'beta'; choose from: alpha, zeta$"):
        things.get("beta")


def test_a_model_or_data_source_that_cannot_be_called_is_refused_as_it_is_registered():
    from satlearn.data import SOURCES
    from satlearn.models import MODELS

    # a run would call it and fail with "'int' object is not callable", naming neither the name nor the registry
    for registry, kind in ((MODELS, "model"), (SOURCES, "data source")):
        with pytest.raises(TypeError, match=rf"^{kind} 'never_built': 42 is not callable"):
            registry.register("never_built")(42)
        assert "never_built" not in registry


def test_a_name_that_no_config_could_give_or_a_forgotten_name_is_refused_at_registration():
    registry = Registry("model")
    for name in (3, "", " tiny", None):
        with pytest.raises(TypeError, match=r"^model name .*: expected non-empty text without spaces around it"):
            registry.register(name)

    def tiny_mlp():
        pass

    # @registry.register without its name would hand the function over as the name, registering nothing
    with pytest.raises(TypeError, match=r"^model .*tiny_mlp: register takes the name first, as in "
                                        r"@register\('tiny_mlp'\)$"):
        registry.register(tiny_mlp)
    assert registry.names() == []
