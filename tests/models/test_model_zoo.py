"""The model zoo: every registered model trains a step and compiles as one graph; default sizes match the published
architectures."""

import re

import pytest
import torch

from satlearn.errors import ConfigError
from satlearn.models import MODELS, create_model

# name -> (input shape without batch dim, small width); image models not listed use ((3, 32, 32), 4)
TINY = {"cnn1d": ((40,), 4), "mlp": ((40,), 8), "wrn28_10": ((3, 32, 32), 1)}
IMAGE_MODELS = ["preact_resnet18", "resnet18", "resnet34", "vgg16_bn", "wrn28_10"]


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_runs_forward_and_backward(name):
    torch.manual_seed(0)
    shape, width = TINY.get(name, ((3, 32, 32), 4))
    model = create_model(name, 7, input_shape=shape, width=width)
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.square().sum().backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_traces_as_one_graph_without_breaks(name):
    # run.compile_mode=reduce-overhead captures each compiled graph as a CUDA graph: a graph break would split the
    # step into pieces with eager Python between them
    shape, width = TINY.get(name, ((3, 32, 32), 4))
    model = create_model(name, 7, input_shape=shape, width=width).train()
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(torch.randn(4, *shape))
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


# Parameter counts of the published CIFAR architectures at 10 classes: ResNet-18/34 with the 3x3 stem,
# pre-activation ResNet-18 with its final BN-ReLU, WRN-28-10 without dropout, and VGG-16 with BatchNorm and the
# 512-unit hidden layer of Deep Gamblers
@pytest.mark.parametrize("name, count", [("resnet18", 11_173_962), ("resnet34", 21_282_122),
                                         ("preact_resnet18", 11_172_170), ("wrn28_10", 36_479_194),
                                         ("vgg16_bn", 14_991_946)])
def test_default_sizes_match_the_published_architectures(name, count):
    model = create_model(name, 10, input_shape=(3, 32, 32))
    assert sum(p.numel() for p in model.parameters()) == count


@pytest.mark.parametrize("name", ["resnet18", "preact_resnet18", "wrn28_10"])
def test_resnets_take_small_odd_inputs_at_width_one(name):
    torch.manual_seed(0)
    model = create_model(name, 3, input_shape=(1, 8, 12), width=1)
    out = model(torch.randn(2, 1, 8, 12))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def test_vgg_classifier_follows_the_input_size_and_width():
    torch.manual_seed(0)
    vgg = create_model("vgg16_bn", 2, input_shape=(3, 64, 64), width=8)
    assert vgg.classifier[0].in_features == 4 * 64 and vgg.classifier[0].out_features == 64
    assert vgg(torch.randn(2, 3, 64, 64)).shape == (2, 2)
    assert create_model("vgg16_bn", 10, input_shape=(3, 32, 32)).classifier[0].in_features == 512
    assert create_model("vgg16_bn", 10, input_shape=(3, 64, 64)).classifier[0].in_features == 2048


@pytest.mark.parametrize("name", IMAGE_MODELS)
@pytest.mark.parametrize("shape", [(40,), (32, 32), (3, 4, 4)])
def test_image_models_reject_unsuitable_input_shapes(name, shape):
    with pytest.raises(ConfigError, match=f"model {name} "):
        create_model(name, 10, input_shape=shape)


def test_bad_shapes_and_unknown_names_give_one_line_config_errors():
    expected = (r"model resnet34 expects images \(C, H, W\), but the data have inputs of shape \(40,\) \(a \.npz "
                r"holds images as 4-D uint8 arrays, \(N, H, W, C\) or \(N, C, H, W\); other arrays are read as rows of "
                r"features\)$")
    with pytest.raises(ConfigError, match=expected):
        create_model("resnet34", 10, input_shape=(40,))
    with pytest.raises(ConfigError, match="model vgg16_bn needs images of at least 32x32"):
        create_model("vgg16_bn", 10, input_shape=(3, 16, 16))
    with pytest.raises(ConfigError, match="model cnn1d expects sequences"):
        create_model("cnn1d", 10, input_shape=(3, 32, 32))
    with pytest.raises(ConfigError, match=r"model cnn1d needs sequences of at least 3 values, got 2 \(a CSV of 2 "):
        create_model("cnn1d", 10, input_shape=(2,))
    assert create_model("cnn1d", 10, input_shape=(3,))(torch.zeros(2, 3)).shape == (2, 10)
    with pytest.raises(ConfigError, match="unknown model 'resnet50'; choose from: ") as info:
        create_model("resnet50", 10, input_shape=(3, 32, 32))
    message = str(info.value)
    assert "\n" not in message and all(name in message for name in MODELS.names())


@pytest.mark.parametrize("arguments, expected", [
    ({"num_classes": 0}, "num_classes=0; expected a whole number of outputs, 1 or more"),
    ({"num_classes": 2.5}, "num_classes=2.5; expected a whole number of outputs, 1 or more"),
    ({"width": -3}, "width=-3; expected a whole number, 1 or more, or None for the model's default"),
    ({"width": 0}, "width=0; expected a whole number, 1 or more, or None for the model's default"),
    ({"width": "8"}, "width='8'; expected a whole number, 1 or more, or None for the model's default"),
    ({"input_shape": 40}, "input_shape=40; expected the shape of one example, a tuple of whole numbers 1 or more"),
    ({"input_shape": (0,)}, "input_shape=(0,); expected the shape of one example, a tuple of whole numbers 1 or more"),
])
def test_create_model_refuses_a_size_that_is_no_count_in_one_line(arguments, expected):
    # (a width of 0 would have been the default size without a word, num_classes=0 a model of no outputs)
    given = {"num_classes": 10, "input_shape": (40,), "width": None, **arguments}
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        create_model("mlp", given.pop("num_classes"), **given)


def test_check_logits_leaves_the_model_as_it_found_it_and_names_a_wrong_output_count():
    from torch import nn

    from satlearn.models import check_logits

    model = create_model("vgg16_bn", 5, input_shape=(3, 32, 32), width=4)  # BatchNorm and dropout both
    before = {key: value.clone() for key, value in model.state_dict().items()}
    generator_state = torch.get_rng_state()
    check_logits("vgg16_bn", model, 5, (3, 32, 32))
    assert model.training and all(torch.equal(value, before[key]) for key, value in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), generator_state)
    with pytest.raises(ConfigError, match=r"^model.name='vgg16_bn' gives logits of shape \(1, 5\) for one input of "
                                          r"shape \(3, 32, 32\); expected \(1, 6\)"):
        check_logits("vgg16_bn", model, 6, (3, 32, 32))
    with pytest.raises(ConfigError, match=r"^model.name='flat' gives tuple for one input"):
        check_logits("flat", nn.Sequential(nn.Flatten(), nn.Linear(4, 2), _Pair()), 2, (4,))
    with pytest.raises(ConfigError, match=r"^model.name='flat': one input of shape \(5,\) does not go through the "
                                          r"model \(.*shapes cannot be multiplied"):
        check_logits("flat", nn.Linear(4, 2), 2, (5,))
    assert model.training


class _Pair(torch.nn.Module):
    def forward(self, x):
        return x, x


class _Slip(torch.nn.Module):
    def forward(self, x):
        return self.head(x)  # no head: a slip in the model's own code


def test_check_logits_lets_a_slip_in_the_models_code_show_as_python_shows_it():
    from torch import nn

    from satlearn.models import check_logits

    # the error of a model's own code keeps its traceback; inputs the model does not take are one line
    with pytest.raises(AttributeError, match="has no attribute 'head'"):
        check_logits("slip", _Slip(), 2, (4,))
    with pytest.raises(ConfigError, match=r"does not go through the model \(running_mean should contain"):
        check_logits("flat", nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(3)), 2, (4,))


def test_a_model_of_ones_own_with_the_wrong_output_count_is_refused_before_training(tmp_path, monkeypatch):
    import math

    from torch import nn

    from fixtures import tiny_overrides
    from satlearn.config import load_config
    from satlearn.engine import fit

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))

    @MODELS.register("ten_outputs")
    def ten_outputs(num_classes, *, input_shape, width=None):  # ignores num_classes
        return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 11))

    for method, expected in (("erm", 10), ("selective_sat", 11)):  # MNIST-1D's 10 classes, and the abstain output
        config = load_config(None, tiny_overrides(tmp_path, "model.name=ten_outputs", f"method.name={method}"))
        if expected == 11:
            assert fit(config, tmp_path / method, log=lambda message: None).summary["model"] == "ten_outputs"
            continue
        with pytest.raises(ConfigError, match=r"model.name='ten_outputs' gives logits of shape \(1, 11\) .*"
                                              r"expected \(1, 10\)"):
            fit(config, tmp_path / method, log=lambda message: None)


def test_a_model_whose_forward_asserts_on_the_input_is_refused_in_one_line_before_training(tmp_path, monkeypatch):
    import math

    from torch import nn

    from fixtures import tiny_overrides
    from satlearn.config import load_config
    from satlearn.engine import fit

    class SquareImagesOnly(nn.Module):
        def __init__(self, num_classes, input_shape):
            super().__init__()
            self.head = nn.Linear(math.prod(input_shape), num_classes)

        def forward(self, x):
            # as torch checks some of its inputs: with an assert, not a RuntimeError
            assert x.dim() == 4 and x.shape[-1] == x.shape[-2], f"expected square images, got {tuple(x.shape)}"
            return self.head(x.flatten(1))

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))

    @MODELS.register("square_images_only")
    def square_images_only(num_classes, *, input_shape, width=None):
        return SquareImagesOnly(num_classes, input_shape)

    config = load_config(None, tiny_overrides(tmp_path, "model.name=square_images_only"))
    with pytest.raises(ConfigError) as info:
        fit(config, tmp_path / "run", log=lambda message: None)
    assert str(info.value) == ("model.name='square_images_only': one input of shape (40,) does not go through the "
                               "model (expected square images, got (1, 40))")


def test_a_bare_assert_in_a_models_forward_is_named_by_its_file_and_line(tmp_path, monkeypatch):
    from fixtures import tiny_overrides
    from satlearn.config import load_config
    from satlearn.engine import fit

    # compiled here rather than written in this file, whose asserts pytest rewrites to carry a message
    source = (
        "import math\n"
        "from torch import nn\n"
        "class SquareImagesOnly(nn.Module):\n"
        "    def __init__(self, num_classes, input_shape):\n"
        "        super().__init__()\n"
        "        self.head = nn.Linear(math.prod(input_shape), num_classes)\n"
        "    def forward(self, x):\n"
        "        assert x.dim() == 4\n"
        "        return self.head(x.flatten(1))\n"
    )
    namespace: dict = {}
    exec(compile(source, "my_model.py", "exec"), namespace)
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))

    @MODELS.register("square_images_only")
    def square_images_only(num_classes, *, input_shape, width=None):
        return namespace["SquareImagesOnly"](num_classes, input_shape)

    config = load_config(None, tiny_overrides(tmp_path, "model.name=square_images_only"))
    with pytest.raises(ConfigError) as info:
        fit(config, tmp_path / "run", log=lambda message: None)
    # an assert without a message says nothing but where it stands
    assert str(info.value) == ("model.name='square_images_only': one input of shape (40,) does not go through the "
                               "model (AssertionError at my_model.py:8)")


@pytest.mark.parametrize("autotuning", [True, False])
def test_check_logits_gives_back_cudnns_autotuning_as_it_found_it(monkeypatch, autotuning):
    # the run's training steps that follow the check rely on it: a run with run.cudnn_benchmark on would lose it
    from torch import nn

    from satlearn.models import check_logits

    monkeypatch.setattr(torch.backends.cudnn, "benchmark", autotuning)
    check_logits("flat", nn.Linear(4, 2), 2, (4,))
    assert torch.backends.cudnn.benchmark is autotuning
    with pytest.raises(ConfigError):
        check_logits("flat", nn.Linear(4, 2), 2, (5,))
    assert torch.backends.cudnn.benchmark is autotuning


def test_check_logits_leaves_running_out_of_memory_to_its_caller():
    from torch import nn

    from satlearn.models import check_logits

    class Exhausting(nn.Module):
        def forward(self, x):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    # the model's size, not its outputs: build_method turns it into "does not fit in memory; use a smaller width"
    with pytest.raises(torch.cuda.OutOfMemoryError):
        check_logits("big", Exhausting(), 2, (4,))


def test_a_builder_of_ones_own_that_breaks_the_contract_is_a_one_line_config_error(monkeypatch):
    from torch import nn

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))

    @MODELS.register("classes_only")
    def classes_only(num_classes):  # takes neither input_shape nor width
        return nn.Linear(4, num_classes)

    @MODELS.register("forgot_return")
    def forgot_return(num_classes, *, input_shape, width=None):
        nn.Linear(4, num_classes)

    @MODELS.register("own_type_error")
    def own_type_error(num_classes, *, input_shape, width=None):
        return nn.Linear(4, num_classes, bias=True, device=None, dtype=None, extra=1)

    with pytest.raises(ConfigError, match=r"^model.name='classes_only': its builder takes \(num_classes\), but a "
                                          r"model builder is called as \(num_classes, \*, input_shape, width\) "
                                          r"\(.*'input_shape'\)$"):
        create_model("classes_only", 2, input_shape=(4,))
    with pytest.raises(ConfigError, match=r"^model.name='forgot_return': its builder returned NoneType, not a "
                                          r"torch.nn.Module$"):
        create_model("forgot_return", 2, input_shape=(4,))
    with pytest.raises(TypeError):  # an error of the builder's own code stays its own, with its traceback
        create_model("own_type_error", 2, input_shape=(4,))


def test_check_logits_leaves_running_out_of_cpu_memory_to_its_caller_too(tmp_path):
    from torch import nn

    from satlearn.config import load_config
    from satlearn.data import DatasetSplits
    from satlearn.engine.trainer import build_method

    class Exhausting(nn.Module):  # torch's CPU allocator fails with a plain RuntimeError, not an OutOfMemoryError
        def __init__(self, num_classes, *, input_shape, width=None):
            super().__init__()
            self.head = nn.Linear(input_shape[0], num_classes)

        def forward(self, x):
            return self.head(x.new_empty(2 ** 45))

    x, y = torch.zeros(4, 3), torch.tensor([0, 1, 0, 1])
    data = DatasetSplits(x_train=x, y_train=y, x_test=x, y_test=y, num_classes=2, class_names=["a", "b"],
                         kind="tabular", name="toy")
    entries = dict(MODELS._entries)
    MODELS.register("exhausting")(Exhausting)
    try:
        config = load_config(None, ["model.name=exhausting", "model.width=8", f"run.out_dir={tmp_path}"])
        with pytest.raises(ConfigError, match=r"^model.name=exhausting, model.width=8: the model does not fit in cpu "
                                              r"memory \(.*can't allocate memory.*\); use a smaller model.width$"):
            build_method(config, data, y, torch.device("cpu"), for_training=False)
    finally:
        MODELS._entries = entries
