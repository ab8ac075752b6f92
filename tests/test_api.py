import satlearn


def test_top_level_names_resolve():
    for name in satlearn.__all__:
        assert getattr(satlearn, name) is not None, name
    assert satlearn.SoftTargets.__module__ == "satlearn.targets"
