"""platform/ must stay a plain source folder: a package there would shadow the standard library."""
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_platform_folder_is_not_a_package():
    assert not (REPO_ROOT / "platform" / "__init__.py").exists()


def test_stdlib_platform_works_in_this_process():
    import platform

    assert platform.system() == "Linux"
    assert hasattr(platform, "python_version")


def test_stdlib_platform_works_from_the_repo_root():
    # Run from the root, where `platform/` sits next to the interpreter's working directory.
    out = subprocess.run(
        [sys.executable, "-c", "import platform, uuid, django; print(platform.system(), uuid.uuid4().version)"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == ["Linux", "4"]
