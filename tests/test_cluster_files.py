"""What can be validated offline about the cluster files: schemas, required keys, references."""

import json
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_ray_cluster_yaml_matches_rays_launcher_schema():
    import jsonschema
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    cfg = yaml.safe_load((REPO / "ray-cluster.yaml").read_text())
    jsonschema.validate(cfg, schema)
    types = cfg["available_node_types"]
    assert types[cfg["head_node_type"]]["resources"] == {"CPU": 0}  # no scorer actors on the head
    assert any(t["node_config"]["InstanceType"].startswith(("g6e", "p5")) for t in types.values())


def test_kuberay_manifests_are_well_formed():
    for name, kind in (("kuberay-raycluster.yaml", "RayCluster"), ("kuberay-rayjob.yaml", "RayJob")):
        doc = yaml.safe_load((REPO / "cluster" / name).read_text())
        assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == kind
        spec = doc["spec"] if kind == "RayCluster" else doc["spec"]["rayClusterSpec"]
        workers = spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
        assert workers["resources"]["limits"]["nvidia.com/gpu"] == "1"
    job = yaml.safe_load((REPO / "cluster" / "kuberay-rayjob.yaml").read_text())
    assert "jobs/score.py" in job["spec"]["entrypoint"]


def test_dockerfile_copies_paths_that_exist():
    text = (REPO / "cluster" / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0].startswith("FROM ")
    for m in re.finditer(r"^COPY (?:--\S+ )*(.+) \S+$", text, flags=re.M):
        for src in m.group(1).split():
            assert (REPO / src).exists(), src


def test_example_job_config_is_valid():
    from agiqa.config import load_config

    cfg = load_config(REPO / "jobs" / "score.example.yaml")
    assert cfg.method.name == "m3-agiqa" and cfg.method.engine.name == "vllm"
    assert cfg.resources["score"].num_gpus == 1 and cfg.runner.kind == "ray"


def test_local_head_script_parses():
    subprocess.run(["bash", "-n", str(REPO / "cluster" / "start-local-head.sh")], check=True)
