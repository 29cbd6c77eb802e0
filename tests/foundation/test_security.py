"""DDS Security: on the wheels path every interseg process refuses ROS_SECURITY_ENABLE=true (its
Fast DDS has no security plugins, and rcl would otherwise start the node unsecured without a
word); ``interseg security`` writes SROS2 keystores whose signatures and certificate chains
openssl accepts and whose permissions list exactly each node's own names.

Upstream references: rcl/security.c (only ROS_SECURITY_ENABLE=true enables security; an
absent enclave under Permissive runs unsecured), rmw_fastrtps_shared_cpp/rmw_security.cpp (the
files an enclave must hold), sros2's keystore/_keystore.py, keystore/_enclave.py and
policy/templates/dds/permissions.xsl (layout, signatures, DDS names of topics, services,
actions)."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, LaunchedGraph, interseg_command, spinning_node, wait_for

from interseg import rosenv
from interseg.security.documents import read_permissions
from interseg.security.policy import NODE_INTERFACES, executable_for
from interseg.supervision.ament_index import resolve_executable

pytestmark = pytest.mark.slow

OPENSSL = "openssl"


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout)


def interseg(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run(*interseg_command(*args), env=env if env is not None else dict(os.environ))


def openssl(*args: str) -> subprocess.CompletedProcess:
    return run(OPENSSL, *args)


# -- refusing security where the middleware cannot provide it --------------------------------


def test_node_asked_for_security_on_the_wheels_refuses_with_one_line(ros_env):
    env = dict(ros_env, ROS_SECURITY_ENABLE="true")
    talker = resolve_executable("interseg", "talker_node", env)
    result = run(*talker, env=env, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("talker_node: ROS_SECURITY_ENABLE=true, but the Fast DDS library here (")
    assert "without the DDS Security plugins" in lines[0]
    # A ROS tool of the CLI refuses the same way.
    result = interseg("topics", env=env)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        lines[0].replace("talker_node:", "interseg:", 1)
    ]


def test_the_wheels_fast_dds_has_no_security_plugins_and_rcl_enables_only_true(tmp_path):
    library = rosenv.fastdds_library()
    assert library is not None and library.name.startswith("libfastdds.so")
    assert not rosenv.fastdds_has_security(library)
    for value in ("True", "1", "yes", ""):  # rcl_security_enabled: strcmp(value, "true")
        rosenv.check_security_support({"ROS_SECURITY_ENABLE": value})
    with pytest.raises(rosenv.SecurityUnavailable, match=re.escape(str(library))):
        rosenv.check_security_support({**os.environ, "ROS_SECURITY_ENABLE": "true"})
    # A Fast DDS built with security (its library names the PKI-DH plugin) is let through, and
    # another middleware is left to itself.
    secured = tmp_path / "lib"
    secured.mkdir()
    (secured / "libfastrtps.so.2.14.4").write_bytes(b"\0" * 64 + rosenv.SECURITY_PLUGIN_MARK + b"\0" * 64)
    rosenv.check_security_support({"ROS_SECURITY_ENABLE": "true", "LD_LIBRARY_PATH": str(secured)})
    rosenv.check_security_support(
        {**os.environ, "ROS_SECURITY_ENABLE": "true", "RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}
    )


SECURE_LAUNCH = """\
    launch:
    - arg: {name: namespace, default: ""}
    - arg: {name: keystore, default: "", description: "SROS2 keystore; '' = security off"}
    - let: {name: secure, value: "$(eval \\"'$(var keystore)' != ''\\")"}
    - let: {name: enclave_root, value: "$(eval \\"'/' + '$(var namespace)'.strip('/') \
if '$(var namespace)'.strip('/') else ''\\")"}
    - set_env: {name: ROS_SECURITY_KEYSTORE, value: $(var keystore), if: $(var secure)}
    - set_env: {name: ROS_SECURITY_ENABLE, value: "true", if: $(var secure)}
    - set_env: {name: ROS_SECURITY_STRATEGY, value: Enforce, if: $(var secure)}
    - group:
        children:
        - push_ros_namespace: {namespace: $(var namespace)}
        - set_remap: {from: /tf, to: tf}
        - set_remap: {from: /tf_static, to: tf_static}
        - set_remap: {from: /clock, to: clock}
        - node: {pkg: interseg, exec: talker_node, name: talker, on_exit: shutdown, \
ros_args: "--enclave $(var enclave_root)/talker"}
        - node: {pkg: interseg, exec: listener_node, name: listener, ros_args: "--enclave $(var enclave_root)/listener"}
    """


def test_a_secured_launch_stops_on_the_wheels_and_its_enclaves_follow_the_launch_file(tmp_path, ros_env):
    """The launch-argument design (keystore:=DIR turns security on, one enclave per node named
    after the node): the nodes refuse here, and `enclave --launch` names the enclaves the nodes
    ask for."""
    launch_file = tmp_path / "secure.launch.yaml"
    launch_file.write_text(textwrap.dedent(SECURE_LAUNCH))
    keystore = tmp_path / "keystore"
    assert interseg("security", "keystore", str(keystore)).returncode == 0
    created = interseg(
        "security", "enclave", str(keystore), "--launch", str(launch_file), "namespace:=robot1", f"keystore:={keystore}"
    )
    assert created.returncode == 0, created.stderr
    for node in ("talker", "listener"):
        assert (keystore / "enclaves" / "robot1" / node / "permissions.p7s").is_file()
    plain = interseg("launch", str(launch_file), "--print")
    assert "--enclave /talker" in plain.stdout and "--enclave /listener" in plain.stdout
    result = run(
        *interseg_command("launch", str(launch_file), "namespace:=robot1", f"keystore:={keystore}"),
        env=ros_env,
        timeout=90,
    )
    assert result.returncode != 0
    assert re.search(
        r"talker_node: ROS_SECURITY_ENABLE=true, but the Fast DDS library here .* without the DDS Security plugins",
        result.stdout + result.stderr,
    ), result.stdout[-3000:]


# -- keystores and enclaves ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keystore(tmp_path_factory) -> Path:
    """A keystore with the enclaves of launch/sim.launch.yaml for a robot in /robot1."""
    path = tmp_path_factory.mktemp("security") / "keystore"
    env = dict(os.environ, ROS_DOMAIN_ID="42")
    assert interseg("security", "keystore", str(path), env=env).returncode == 0
    result = interseg(
        "security", "enclave", str(path), "--launch", str(REPO / "launch/sim.launch.yaml"), "namespace:=robot1", env=env
    )
    assert result.returncode == 0, result.stderr
    return path


SIM_NODES = ("sim", "capture", "hypotheses", "grasp_planner", "labeller", "trainer", "experimenter")


def test_keystore_has_the_sros2_layout(keystore):
    for name in ("public/ca.cert.pem", "private/ca.key.pem", "enclaves/governance.xml", "enclaves/governance.p7s"):
        assert (keystore / name).is_file() and not (keystore / name).is_symlink(), name
    for kind in ("identity", "permissions"):
        assert os.readlink(keystore / f"public/{kind}_ca.cert.pem") == "ca.cert.pem"
        assert os.readlink(keystore / f"private/{kind}_ca.key.pem") == "ca.key.pem"
    assert (keystore / "private/ca.key.pem").stat().st_mode & 0o077 == 0
    for node in SIM_NODES:
        enclave = keystore / "enclaves" / "robot1" / node
        # what rmw_fastrtps's get_security_file_paths requires, all readable
        for name in (
            "identity_ca.cert.pem",
            "permissions_ca.cert.pem",
            "governance.p7s",
            "cert.pem",
            "key.pem",
            "permissions.p7s",
        ):
            assert os.access(enclave / name, os.R_OK), f"{enclave}/{name}"
        assert (enclave / "identity_ca.cert.pem").resolve() == (keystore / "public/ca.cert.pem").resolve()
        assert (enclave / "governance.p7s").resolve() == (keystore / "enclaves/governance.p7s").resolve()
        assert (enclave / "permissions.xml").is_file()
        assert (enclave / "key.pem").stat().st_mode & 0o077 == 0


def _verified_content(signed: Path, ca: Path) -> str:
    result = openssl("smime", "-verify", "-in", str(signed), "-CAfile", str(ca), "-text")
    assert result.returncode == 0 and "Verification successful" in result.stderr, result.stderr
    return result.stdout.replace("\r\n", "\n")


def test_governance_and_permissions_are_signed_by_the_permissions_ca(keystore, tmp_path):
    ca = keystore / "public/permissions_ca.cert.pem"
    governance = _verified_content(keystore / "enclaves/governance.p7s", ca)
    assert governance == (keystore / "enclaves/governance.xml").read_text()
    assert "<id>42</id>" in governance and "<rtps_protection_kind>ENCRYPT</rtps_protection_kind>" in governance
    assert "<allow_unauthenticated_participants>false</allow_unauthenticated_participants>" in governance
    for node in SIM_NODES:
        enclave = keystore / "enclaves" / "robot1" / node
        content = _verified_content(enclave / "permissions.p7s", enclave / "permissions_ca.cert.pem")
        assert content == (enclave / "permissions.xml").read_text()
        assert f"<subject_name>CN=/robot1/{node}</subject_name>" in content and "<default>DENY</default>" in content
    # The check can fail: a changed document, or a CA of another keystore.
    tampered = tmp_path / "tampered.p7s"
    tampered.write_text(
        (keystore / "enclaves/robot1/labeller/permissions.p7s")
        .read_text()
        .replace("rt/robot1/interactions", "rt/robot1/interactionz")
    )
    assert openssl("smime", "-verify", "-in", str(tampered), "-CAfile", str(ca), "-text").returncode != 0
    other = tmp_path / "other"
    assert interseg("security", "keystore", str(other)).returncode == 0
    assert (
        openssl(
            "smime",
            "-verify",
            "-in",
            str(keystore / "enclaves/governance.p7s"),
            "-CAfile",
            str(other / "public/ca.cert.pem"),
        ).returncode
        != 0
    )


def test_certificate_chains(keystore, tmp_path):
    ca = keystore / "public/identity_ca.cert.pem"
    assert openssl("verify", "-CAfile", str(ca), str(ca)).returncode == 0
    ca_text = openssl("x509", "-in", str(ca), "-noout", "-text").stdout
    assert re.search(r"CA:TRUE, pathlen:1", ca_text) and "prime256v1" in ca_text
    for node in SIM_NODES:
        enclave = keystore / "enclaves" / "robot1" / node
        result = openssl("verify", "-CAfile", str(enclave / "identity_ca.cert.pem"), str(enclave / "cert.pem"))
        assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), result.stdout + result.stderr
        subject = openssl("x509", "-in", str(enclave / "cert.pem"), "-noout", "-subject").stdout
        assert subject.strip() in (f"subject=CN = /robot1/{node}", f"subject=CN=/robot1/{node}")
        assert "CA:FALSE" in openssl("x509", "-in", str(enclave / "cert.pem"), "-noout", "-text").stdout
        # the private key belongs to the certificate
        public_of_key = openssl("pkey", "-in", str(enclave / "key.pem"), "-pubout").stdout
        public_of_cert = openssl("x509", "-in", str(enclave / "cert.pem"), "-noout", "-pubkey").stdout
        assert public_of_key == public_of_cert and public_of_key.startswith("-----BEGIN PUBLIC KEY-----")
    other = tmp_path / "other"
    assert interseg("security", "keystore", str(other)).returncode == 0
    assert (
        openssl(
            "verify", "-CAfile", str(other / "public/ca.cert.pem"), str(keystore / "enclaves/robot1/labeller/cert.pem")
        ).returncode
        != 0
    )


INFRASTRUCTURE_SERVICES = (
    "describe_parameters",
    "get_parameter_types",
    "get_parameters",
    "get_type_description",
    "list_parameters",
    "set_parameters",
    "set_parameters_atomically",
)


def test_permissions_list_exactly_the_nodes_names(keystore):
    def infrastructure(node: str) -> tuple[set[str], set[str]]:
        return (
            {"rt/rosout", "rt/parameter_events"} | {f"rr/robot1/{node}/{s}Reply" for s in INFRASTRUCTURE_SERVICES},
            {f"rq/robot1/{node}/{s}Request" for s in INFRASTRUCTURE_SERVICES},
        )

    subject, allowed = read_permissions(keystore / "enclaves/robot1/labeller/permissions.xml")
    publish, subscribe = infrastructure("labeller")
    assert subject == "CN=/robot1/labeller"
    assert allowed.publish == publish | {"rt/robot1/labelled_examples"}
    assert allowed.subscribe == subscribe | {"rt/robot1/interactions", "rt/robot1/clock"}

    # an action server and an action client, a service client, private topics
    _, allowed = read_permissions(keystore / "enclaves/robot1/grasp_planner/permissions.xml")
    publish, subscribe = infrastructure("grasp_planner")
    interact = [f"robot1/interact/_action/{s}" for s in ("cancel_goal", "get_result", "send_goal")]
    pick_place = [f"robot1/pick_place/_action/{s}" for s in ("cancel_goal", "get_result", "send_goal")]
    assert allowed.publish == publish | {
        "rt/robot1/interactions",
        "rt/robot1/grasp_planner/markers",
        "rq/robot1/captureRequest",
        "rt/robot1/interact/_action/feedback",
        "rt/robot1/interact/_action/status",
    } | {f"rr/{s}Reply" for s in interact} | {f"rq/{s}Request" for s in pick_place}
    assert allowed.subscribe == subscribe | {
        "rt/robot1/clock",
        "rr/robot1/captureReply",
        "rt/robot1/pick_place/_action/feedback",
        "rt/robot1/pick_place/_action/status",
    } | {f"rq/{s}Request" for s in interact} | {f"rr/{s}Reply" for s in pick_place}

    # /tf_static remapped into the namespace by the launch file
    _, allowed = read_permissions(keystore / "enclaves/robot1/capture/permissions.xml")
    assert "rt/robot1/tf_static" in allowed.subscribe and "rt/tf_static" not in allowed.subscribe


def test_an_enclave_made_again_keeps_its_identity_and_updates_its_permissions(keystore, tmp_path):
    enclave = keystore / "enclaves" / "robot1" / "labeller"
    before = (enclave / "cert.pem").read_bytes()
    result = interseg("security", "enclave", str(keystore), "--node", "/robot1/labeller", "--domain-id", "42")
    assert result.returncode == 0, result.stderr
    assert (enclave / "cert.pem").read_bytes() == before
    _, allowed = read_permissions(enclave / "permissions.xml")
    assert "rt/robot1/clock" not in allowed.subscribe  # started by hand without use_sim_time now
    assert (
        interseg(
            "security", "enclave", str(keystore), "--node", "/robot1/labeller", "--sim-time", "--domain-id", "42"
        ).returncode
        == 0
    )
    _, allowed = read_permissions(enclave / "permissions.xml")
    assert (
        "rt/clock" in allowed.subscribe and "rt/robot1/clock" not in allowed.subscribe
    )  # rclpy's /clock, not remapped
    assert (
        interseg(
            "security",
            "enclave",
            str(keystore),
            "--node",
            "/robot1/labeller",
            "--sim-time",
            "--remap",
            "/clock:=clock",
            "--domain-id",
            "42",
        ).returncode
        == 0
    )
    _, allowed = read_permissions(enclave / "permissions.xml")
    assert (
        "rt/robot1/clock" in allowed.subscribe and "rt/clock" not in allowed.subscribe
    )  # as the launch files remap it
    _verified_content(enclave / "permissions.p7s", keystore / "public/permissions_ca.cert.pem")


def test_the_robot_launch_files_camera_remaps_reach_the_permissions(tmp_path):
    keystore = tmp_path / "keystore"
    assert interseg("security", "keystore", str(keystore)).returncode == 0
    result = interseg(
        "security", "enclave", str(keystore), "--launch", str(REPO / "launch/robot.launch.yaml"), "cam1_ns:=/left/color"
    )
    assert result.returncode == 0, result.stderr
    _, allowed = read_permissions(keystore / "enclaves/capture/permissions.xml")
    cameras = {t for t in allowed.subscribe if "image_raw" in t or "camera_info" in t}
    assert cameras == {
        "rt/camera0/color/image_raw",
        "rt/camera0/color/camera_info",
        "rt/camera0/aligned_depth_to_color/image_raw",
        "rt/left/color/image_raw",
        "rt/left/color/camera_info",
        "rt/camera2/color/image_raw",
        "rt/camera2/color/camera_info",
        "rt/camera3/color/image_raw",
        "rt/camera3/color/camera_info",
    }
    assert "rt/clock" not in allowed.subscribe  # the robot runs on wall time
    assert sorted(p.name for p in (keystore / "enclaves").iterdir() if p.is_dir()) == sorted(
        ["moveit_pick_place", "capture", "hypotheses", "grasp_planner", "labeller", "trainer", "experimenter"]
    )


def test_the_fleets_enclaves_follow_its_robots_and_parameters(tmp_path):
    """fleet.launch.yaml: one enclave per node of every robot and of the learner; a robot's
    labeller may request the store writer's service (its store_service parameter), its
    hypotheses node hears the learner's /model_updates (the remap); a single robot's labeller
    writes the store itself and requests nothing."""
    from interseg.security.policy import NodeSpec, node_permissions

    keystore = tmp_path / "keystore"
    assert interseg("security", "keystore", str(keystore)).returncode == 0
    result = interseg("security", "enclave", str(keystore), "--launch", str(REPO / "launch/fleet.launch.yaml"))
    assert result.returncode == 0, result.stderr
    enclaves = keystore / "enclaves"
    assert sorted(p.name for p in enclaves.iterdir() if p.is_dir()) == ["robot0", "robot1", "store_writer", "trainer"]
    allowed = {
        name: read_permissions(enclaves / name / "permissions.xml")[1]
        for name in ("robot1/labeller", "robot1/hypotheses", "store_writer", "trainer")
    }
    labeller = allowed["robot1/labeller"]
    assert "rq/store_exampleRequest" in labeller.publish and "rr/store_exampleReply" in labeller.subscribe
    assert "rt/robot1/labelled_examples" in labeller.publish
    assert "rt/model_updates" in allowed["robot1/hypotheses"].subscribe
    assert "rt/model_updates" in allowed["trainer"].publish
    assert "rr/store_exampleReply" in allowed["store_writer"].publish
    alone = node_permissions(NodeSpec("/labeller", "labeller_node", parameters=(("store_service", "''"),)))
    assert not any("store_example" in name for name in alone.publish | alone.subscribe)
    segmenting = node_permissions(
        NodeSpec("/r/hypotheses", "hypotheses_node", parameters=(("segment_topic", "/left/image_raw"),))
    )
    assert "rt/left/image_raw" in segmenting.subscribe
    assert "rt/r/hypotheses/segmentation/labels" in segmenting.publish


@pytest.mark.parametrize(
    "args, expected",
    [
        (["keystore", "{ks}"], "already a keystore"),
        (["enclave", "{tmp}/nothing", "--node", "/capture"], "not a keystore"),
        (["enclave", "{ks}", "--node", "capture"], "not a fully qualified node name"),
        (["enclave", "{ks}", "--node", "/robot1/camera"], "no interseg node is named 'camera'"),
        (["enclave", "{ks}", "--node", "/a=not_a_node"], "unknown interseg executable 'not_a_node'"),
        (["enclave", "{ks}", "--node", "/a/capture", "--remap", "x"], "bad remap rule 'x'"),
        (
            ["enclave", "{ks}", "--node", "/capture", "--node", "/b/capture", "--enclave", "/e"],
            "--enclave names the enclave of a single --node",
        ),
        (["enclave", "{ks}"], "give either --launch FILE or --node"),
        (["enclave", "{ks}", "--launch", "{tmp}/missing.launch.yaml"], "launch file not found"),
        (["enclave", "{ks}", "--node", "/capture", "--enclave", "relative"], "not a valid enclave name"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(keystore, tmp_path, args, expected):
    result = interseg("security", *[a.format(ks=keystore, tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines


# -- the table of names against the running nodes ----------------------------------------------


def _dds_names(node, name: str, namespace: str) -> tuple[set[str], set[str]] | None:
    """What the running node publishes and subscribes to on DDS, from graph introspection."""
    try:
        publishers = {t for t, _ in node.get_publisher_names_and_types_by_node(name, namespace)}
        subscribers = {t for t, _ in node.get_subscriber_names_and_types_by_node(name, namespace)}
        servers = {s for s, _ in node.get_service_names_and_types_by_node(name, namespace)}
        clients = {s for s, _ in node.get_client_names_and_types_by_node(name, namespace)}
    except Exception:  # the node is not (or no longer) in the graph
        return None
    publish = {f"rt{t}" for t in publishers} | {f"rr{s}Reply" for s in servers} | {f"rq{c}Request" for c in clients}
    subscribe = {f"rt{t}" for t in subscribers} | {f"rq{s}Request" for s in servers} | {f"rr{c}Reply" for c in clients}
    return publish, subscribe


def _stable_graph(
    node, expected: set[str], timeout: float, describe, ready=lambda: True
) -> dict[str, tuple[set[str], set[str]]]:
    """Every expected node's DDS names, once ``ready()`` holds and five looks a second apart
    agree (a node is in the graph before it has created its publishers, e.g. while torch loads)."""
    seen: list[dict] = []

    def settled():
        names = {f"{ns.rstrip('/')}/{n}": _dds_names(node, n, ns) for n, ns in node.get_node_names_and_namespaces()}
        names = {k: v for k, v in names.items() if k in expected and v is not None}
        seen.append(names if set(names) == expected and ready() else None)
        return names if len(seen) >= 5 and names and all(look == names for look in seen[-5:]) else None

    return wait_for(settled, timeout, interval=1.0, message=f"nodes {sorted(expected)}\n{describe()}")


EXTRAS_LAUNCH = """\
    launch:
    - arg: {name: store}
    - group:
        children:
        - push_ros_namespace: {namespace: robot2}
        - set_remap: {from: /tf, to: tf}
        - set_remap: {from: /tf_static, to: tf_static}
        - set_remap: {from: /clock, to: clock}
        - node: {pkg: interseg, exec: talker_node, name: talker}
        - node: {pkg: interseg, exec: listener_node, name: listener}
        - node:
            pkg: interseg
            exec: static_transforms_node
            name: static_transforms
            param: [{name: transforms_file, value: $(find-pkg-share interseg)/config/cameras.yaml}]
        - node:
            pkg: interseg
            exec: push_collector_node
            name: push_collector
            param:
            - from: $(find-pkg-share interseg)/config/push_collector.yaml
            - {name: store, value: $(var store)}
            - {name: frames, value: 100000}
            - {name: width, value: 160}
            - {name: height, value: 120}
            - {name: shadows, value: false}
        - node:
            pkg: interseg
            exec: store_writer_node
            name: store_writer
            param: [{name: store, value: $(var store)-written}]
    """


@pytest.mark.slow
def test_each_nodes_permissions_are_exactly_what_it_uses_when_launched(tmp_path, ros_env):
    """The table the permissions come from equals what the nodes create: the simulator graph in
    /robot1 and the other nodes in /robot2 are introspected, and every node's permissions.xml
    allows exactly the DDS topics of its publishers, subscriptions, services and clients (actions
    included). moveit_pick_place needs moveit_py and gz_reset_arena ros_gz_interfaces, which only a full
    ROS install has."""
    extras = tmp_path / "extras.launch.yaml"
    extras.write_text(textwrap.dedent(EXTRAS_LAUNCH))
    sim_args = [
        str(REPO / "launch/sim.launch.yaml"),
        "namespace:=robot1",
        f"run_dir:={tmp_path / 'run'}",
        "image_width:=320",
        "image_height:=240",
        "shadows:=false",
        "steps_per_round:=4",
    ]
    extras_args = [str(extras), f"store:={tmp_path / 'pushes'}"]
    keystore = tmp_path / "keystore"
    assert interseg("security", "keystore", str(keystore)).returncode == 0
    for args in (sim_args, extras_args):
        result = interseg("security", "enclave", str(keystore), "--launch", *args)
        assert result.returncode == 0, result.stderr

    def permitted(full_name: str) -> tuple[set[str], set[str]]:
        _, allowed = read_permissions(keystore / "enclaves" / full_name.lstrip("/") / "permissions.xml")
        return allowed.publish, allowed.subscribe

    covered = set()
    with spinning_node(f"security_test_{os.getpid()}") as client:
        pushes = tmp_path / "pushes"
        progress = tmp_path / "run" / "progress.jsonl"
        for args, namespace, nodes, ready in (
            (
                extras_args,
                "/robot2",
                ("talker", "listener", "static_transforms", "push_collector", "store_writer"),
                lambda: any(pushes.glob("*")),
            ),
            # the first interaction has used every node of the loop
            (sim_args, "/robot1", SIM_NODES, lambda: progress.is_file() and progress.read_text().strip()),
        ):
            launched = LaunchedGraph(args, ros_env)
            try:
                expected = {f"{namespace}/{n}" for n in nodes}
                graph = _stable_graph(client, expected, 300, lambda g=launched: g.output()[-3000:], ready)
            finally:
                launched.kill()
            for full_name, (publish, subscribe) in graph.items():
                allowed_publish, allowed_subscribe = permitted(full_name)
                assert allowed_publish == publish, (full_name, "publish", sorted(allowed_publish ^ publish))
                assert allowed_subscribe == subscribe, (full_name, "subscribe", sorted(allowed_subscribe ^ subscribe))
                covered.add(executable_for(full_name.rpartition("/")[2]))
    assert covered == set(NODE_INTERFACES) - {"moveit_pick_place_node", "gz_reset_arena_node"}
