from tests.fixtures.models import prepared_models_dir

__all__ = ["prepared_models_dir"]
