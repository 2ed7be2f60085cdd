"""Worker containers made the way compose makes them: labels, numbers, names, templates."""

from __future__ import annotations

import autoscale.backends.compose as compose

WORKER = {
    "Created": "2026-12-01T12:00:00.000000000Z",
    "Config": {
        "Image": "hauler:latest",
        "Cmd": ["hauler", "worker", "media"],
        "Env": ["HAULER_BROKER_URL=redis://redis:6379/0", "PATH=/opt/hauler/bin:/usr/bin"],
        "Labels": {
            compose.PROJECT: "shop",
            compose.SERVICE: "worker-media",
            compose.NUMBER: "1",
            compose.ONEOFF: "False",
            compose.CONFIG_HASH: "abc123",
            compose.VERSION: "1.29.2",
            "com.docker.compose.project.working_dir": "/srv/hauler",
        },
        "StopSignal": "SIGTERM",
    },
    "HostConfig": {"NetworkMode": "shop_default", "RestartPolicy": {"Name": "unless-stopped"}},
    "NetworkSettings": {"Networks": {"shop_default": {"Aliases": ["worker-media", "1f2e"]}}},
    "Mounts": [{"Type": "volume", "Name": "shop_hauler-data", "Destination": "/data", "RW": True}],
}

AUTOSCALER = {
    "Config": {
        "Image": "hauler:latest",
        "Cmd": ["hauler", "autoscale", "--backend", "docker"],
        "Env": ["HAULER_BROKER_URL=redis://redis:6379/0"],
        "Labels": {
            compose.PROJECT: "shop",
            compose.SERVICE: "autoscaler",
            compose.NUMBER: "1",
            compose.CONFIG_HASH: "fff",
            compose.VERSION: "2.24.0",
        },
    },
    "HostConfig": {"NetworkMode": "host"},
    "Mounts": [
        {"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock"},
        {"Type": "volume", "Name": "shop_hauler-data", "Destination": "/data", "RW": True},
    ],
}


def test_a_copy_of_a_service_container_is_one_more_of_that_service():
    spec = compose.from_template(WORKER, "media", "media-as1@%h", 4, "shop")
    # compose's labels, with the next number; the config hash kept (compose keeps it on `up`)
    assert spec.labels[compose.PROJECT] == "shop"
    assert spec.labels[compose.SERVICE] == "worker-media"
    assert spec.labels[compose.NUMBER] == "4"
    assert spec.labels[compose.ONEOFF] == "False"
    assert spec.labels[compose.CONFIG_HASH] == "abc123"
    assert spec.labels["com.docker.compose.project.working_dir"] == "/srv/hauler"
    assert spec.labels[compose.NODE] == "media-as1@%h"
    # named as docker-compose 1.x names it, on the same network, volume, env and image
    assert spec.name == "shop_worker-media_4"
    assert spec.networks == {"shop_default": ["worker-media"]}
    assert spec.mounts == [
        {"target": "/data", "source": "shop_hauler-data", "type": "volume", "read_only": False}
    ]
    assert spec.environment == WORKER["Config"]["Env"]
    assert spec.image == "hauler:latest"
    assert spec.command == ["hauler", "worker", "media", "-n", "media-as1@%h"]
    assert spec.restart_policy == {"Name": "unless-stopped"}


def test_a_copy_of_the_autoscaler_is_a_plain_worker_without_the_docker_socket():
    spec = compose.from_template(AUTOSCALER, "health", "health-as2@%h", 1, "shop")
    assert spec.command == ["hauler", "worker", "health", "celery", "-n", "health-as2@%h"]
    assert [m["target"] for m in spec.mounts] == ["/data"]
    assert compose.CONFIG_HASH not in spec.labels  # compose recreates it on its next `up`
    assert spec.labels[compose.SERVICE] == "worker-health"
    assert spec.name == "shop-worker-health-1"  # compose v2's naming
    assert spec.network_mode == "host" and spec.networks == {}


def test_numbers_continue_above_the_highest_in_use():
    labels = [{compose.NUMBER: "1"}, {compose.NUMBER: "3"}, {}, {compose.NUMBER: "x"}]
    assert compose.next_number(labels) == 4
    assert compose.next_number([]) == 1


def test_a_template_node_name_is_replaced_not_repeated():
    command = ["hauler", "worker", "media", "-n", "media@%h", "--hostname=x@%h", "-c", "2"]
    assert compose.worker_command(command, "media", "media-as9@%h") == [
        "hauler", "worker", "media", "-c", "2", "-n", "media-as9@%h",
    ]  # fmt: skip


def test_selector_is_one_project_one_service_and_no_one_offs():
    assert compose.selector("shop", "media") == {
        "label": [
            "com.docker.compose.project=shop",
            "com.docker.compose.service=worker-media",
            "com.docker.compose.oneoff=False",
        ]
    }


def test_own_container_is_read_from_the_hostname_bind_mount():
    cid = "a" * 64
    inside = (
        "601 600 0:50 / / rw,relatime - overlay overlay rw\n"
        f"612 601 8:1 /var/lib/docker/containers/{cid}/hostname /etc/hostname rw - ext4 /dev/sda1\n"
    )
    assert compose.own_container_id(inside) == cid
    other = "b" * 64
    on_the_host = (
        f"29 1 0:26 / /var/lib/docker/containers/{other}/mounts/shm rw - tmpfs shm rw\n"
        "30 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
    )
    assert compose.own_container_id(on_the_host) is None
