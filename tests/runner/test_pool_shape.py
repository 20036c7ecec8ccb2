"""How many actors a pass gets, and what each reserves, on one node and on many."""

import pytest

from agiqa.resources import Resources
from agiqa.runner.ray.driver import pool_shape


def test_a_cpu_stage_on_one_node_is_one_actor_holding_the_machine():
    assert pool_shape(Resources(num_cpus=1.0), {"CPU": 16.0}, [16.0]) == (1, 0.0, 16.0)


def test_a_cpu_stage_on_many_nodes_gets_actors_every_node_can_place():
    # head 2 CPUs, two workers of 16: actors of 2 CPUs, as many as fit (1 + 8 + 8), never one of 34
    assert pool_shape(Resources(num_cpus=1.0), {"CPU": 34.0}, [2.0, 16.0, 16.0]) == (17, 0.0, 2.0)
    # a node smaller than the stage's own need is left out
    assert pool_shape(Resources(num_cpus=4.0), {"CPU": 36.0}, [2.0, 16.0, 16.0])[1:] == (0.0, 16.0)


def test_gpu_and_fixed_pools_are_as_asked():
    assert pool_shape(Resources(num_gpus=1.0, num_cpus=4.0), {"CPU": 64.0, "GPU": 8.0}, [32.0, 32.0]) == (8, 1.0, 4.0)
    assert pool_shape(Resources(num_cpus=1.0, num_actors=2), {"CPU": 2.0}, [2.0]) == (2, 0.0, 1.0)


def test_actors_no_node_can_hold_are_refused_in_one_line(ray_local, tmp_path):
    from agiqa.errors import ClusterError
    from agiqa.runner.run import run_job
    from agiqa.workflows.score import build_score_job
    from tests.runner.helpers import fake_config
    from tests.runner.test_ray_runner import shards

    cfg = fake_config(shards(tmp_path), tmp_path / "out", runner="ray")
    cfg.resources = {"score": {"num_actors": 1, "num_cpus": 512}}
    with pytest.raises(ClusterError, match=r"need 512 CPU and 0 GPU each, and no node .* has that"):
        run_job(build_score_job(cfg))
