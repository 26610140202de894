from tests.training.conftest import _remove_training_files, tiny_model_dir, toy_target, toy_version  # noqa: F401
