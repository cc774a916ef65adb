"""Spawning a gloo group on 127.0.0.1 for the distributed tests (test_distributed.py, test_dtensor.py):
a free port, the environment the ranks inherit, a bounded wait, and a retry when the port was taken."""
import os
import socket
import time

import pytest
import torch.multiprocessing as mp

ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",          # 2 cores, up to 4 ranks and the test process
    "OMP_WAIT_POLICY": "passive",    # spinning OpenMP threads stalled busy machines before
    "GLOO_SOCKET_IFNAME": "lo",      # gloo's connections on the loopback interface only
}


def free_port():
    """A port on 127.0.0.1 that nothing listens on now (the kernel picks it for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_and_wait(run, world_size, out, timeout_s):
    """Runs run(rank, world_size, port, out) on world_size processes, again with another port if the
    free one was taken before the group bound it; fails the test after timeout_s, killing the ranks."""
    for attempt in range(3):
        try:
            return _spawn_and_wait_once(run, world_size, out, timeout_s)
        except mp.ProcessRaisedException as error:
            if "Address already in use" not in str(error) or attempt == 2:
                raise


def _spawn_and_wait_once(run, world_size, out, timeout_s):
    saved = {name: os.environ.get(name) for name in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)       # the spawned processes inherit it
    try:
        context = mp.spawn(run, args=(world_size, free_port(), str(out)), nprocs=world_size, join=False)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    deadline = time.monotonic() + timeout_s
    try:
        while not context.join(timeout=max(0.1, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                pytest.fail("the gloo group of %d processes did not finish in %d s" % (world_size, timeout_s))
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
                process.join(5)
