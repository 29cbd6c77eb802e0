"""SROS2 keystores for the interseg graph: certificates, governance and per-node permissions.

``interseg security keystore DIR`` writes what ``ros2 security create_keystore`` writes, and
``interseg security enclave DIR ...`` what ``ros2 security create_enclave`` plus a policy of the
node's own names would, in the same layout, so that rcl and rmw_fastrtps on a full ROS 2
install (the Docker image; the wheels' Fast DDS has no security plugins) find the files:

    DIR/public/ca.cert.pem                  the keystore's CA (ECDSA P-256, self-signed)
    DIR/public/identity_ca.cert.pem         -> ca.cert.pem
    DIR/public/permissions_ca.cert.pem      -> ca.cert.pem
    DIR/private/ca.key.pem                  its private key (PKCS#8, mode 0600)
    DIR/private/identity_ca.key.pem         -> ca.key.pem
    DIR/private/permissions_ca.key.pem      -> ca.key.pem
    DIR/enclaves/governance.xml             authenticate, encrypt, access control on every topic
    DIR/enclaves/governance.p7s             the same, S/MIME-signed by the permissions CA
    DIR/enclaves/<enclave>/cert.pem         the enclave's identity (CN=<enclave>), signed by the identity CA
    DIR/enclaves/<enclave>/key.pem          its private key
    DIR/enclaves/<enclave>/identity_ca.cert.pem, permissions_ca.cert.pem, governance.p7s (links)
    DIR/enclaves/<enclave>/permissions.xml  one grant: the node's own DDS topics, everything else denied
    DIR/enclaves/<enclave>/permissions.p7s  the same, signed by the permissions CA

Permissions are not the wildcard ``/*`` that ``create_enclave`` grants: each node may publish
and subscribe to the DDS topics of its own topics, services and actions (and the ones every
ROS 2 node has: /rosout, /parameter_events, its parameter and type-description services, /clock
with use_sim_time), translated as sros2's permissions template translates a policy (``rt`` +
topic, ``rq``/``rr`` + service + Request/Reply, an action's three services and two topics under
``_action/``), plus ``ros_discovery_info`` that rmw_fastrtps needs. The names come from
``NODE_INTERFACES``, a table of what each executable creates with its shipped parameters, kept
equal to the running nodes by a test that introspects the launched graph; a launch file's
namespace and remaps apply to them as rcl applies them (``enclave --launch``).
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from interseg.constants import CAMERA_NAMES, MAIN_CAMERA

PUBLIC, PRIVATE, ENCLAVES = "public", "private", "enclaves"
CA_NAME = "interseg keystore CA"
VALIDITY_DAYS = 3650  # as sros2
EXIT_BAD_INPUT = 2


class SecurityError(ValueError):
    """A keystore or enclave cannot be written as asked; one line."""


# -- what each node creates ------------------------------------------------------------------

@dataclass(frozen=True)
class NodeInterfaces:
    """Names as the node's code creates them (relative, ``~/`` private or absolute), before
    namespace and remaps; sros2's policy vocabulary: a service server ``reply``s, a client
    ``request``s, an action server ``execute``s, a client ``call``s."""

    node: str  # default node name
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    reply: tuple[str, ...] = ()
    request: tuple[str, ...] = ()
    execute: tuple[str, ...] = ()
    call: tuple[str, ...] = ()


_CAMERAS = CAMERA_NAMES
_CAMERA_TOPICS = tuple(f"cameras/{c}/{t}" for c in _CAMERAS for t in ("image_raw", "camera_info"))
_DEPTH_TOPICS = (f"cameras/{MAIN_CAMERA}/depth/image_raw", f"cameras/{MAIN_CAMERA}/depth/camera_info")

# executable -> its names with the shipped config/<node>.yaml (cameras, topic patterns)
NODE_INTERFACES: dict[str, NodeInterfaces] = {
    "sim_node": NodeInterfaces(
        "sim", publish=_CAMERA_TOPICS + _DEPTH_TOPICS + ("/tf", "/tf_static", "joint_states", "robot_description", "/clock"),
        reply=("reset_arena",), execute=("pick_place",)),
    "capture_node": NodeInterfaces(
        "capture", publish=("observation", "~/status"), subscribe=_CAMERA_TOPICS + _DEPTH_TOPICS[:1] + ("/tf_static",),
        reply=("capture",)),
    "hypotheses_node": NodeInterfaces(
        "hypotheses", publish=("hypotheses", "~/overlay", "~/markers"), subscribe=("model_updates",), reply=("propose_objects",)),
    "grasp_planner_node": NodeInterfaces(
        "grasp_planner", publish=("interactions", "~/markers"), request=("capture",), execute=("interact",), call=("pick_place",)),
    "labeller_node": NodeInterfaces("labeller", publish=("labelled_examples",), subscribe=("interactions",)),
    "trainer_node": NodeInterfaces("trainer", publish=("model_updates",)),
    "experimenter_node": NodeInterfaces(
        "experimenter", publish=("~/progress",), request=("capture", "propose_objects", "reset_arena"), call=("interact",)),
    "push_collector_node": NodeInterfaces("push_collector", publish=("labelled_examples", "~/progress")),
    # The interseg node only; MoveItPy runs its own node (planning scene, controllers, TF) in the
    # same process, whose names depend on the arm's MoveIt configuration.
    "moveit_pick_place_node": NodeInterfaces("moveit_pick_place", execute=("pick_place",)),
    "static_transforms_node": NodeInterfaces("static_transforms", publish=("/tf_static",)),
    "talker_node": NodeInterfaces("talker", publish=("hypotheses",)),
    "listener_node": NodeInterfaces("listener", subscribe=("hypotheses",)),
}

# What every rclpy node creates (Jazzy/Kilted): rosout, parameter events, the parameter services
# and the type description service; with use_sim_time, a /clock subscription.
EVERY_NODE = NodeInterfaces(
    "", publish=("/rosout", "/parameter_events"),
    reply=tuple(f"~/{s}" for s in ("describe_parameters", "get_parameter_types", "get_parameters", "get_type_description",
                                   "list_parameters", "set_parameters", "set_parameters_atomically")))
SIM_TIME = NodeInterfaces("", subscribe=("/clock",))
ROS_DISCOVERY_TOPIC = "ros_discovery_info"  # rmw_fastrtps's graph topic (sros2 allows it for fastrtps)
_ACTION_SERVICES = ("cancel_goal", "get_result", "send_goal")
_ACTION_TOPICS = ("feedback", "status")


def executable_for(node_name: str) -> str:
    """The executable whose default node name is ``node_name``."""
    for executable, interfaces in NODE_INTERFACES.items():
        if interfaces.node == node_name:
            return executable
    known = ", ".join(sorted(i.node for i in NODE_INTERFACES.values()))
    raise SecurityError(f"no interseg node is named '{node_name}' (known: {known}); name its executable with --node /ns/name=EXECUTABLE")


# -- ROS names (rcl's expansion and remapping) -----------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _valid_absolute(name: str) -> bool:
    return name == "/" or (name.startswith("/") and all(_TOKEN.fullmatch(t) for t in name[1:].split("/")))


def split_node_name(full_name: str) -> tuple[str, str]:
    """'/robot1/capture' -> ('/robot1', 'capture'); refuses what is not a valid node name."""
    if not _valid_absolute(full_name) or full_name == "/":
        raise SecurityError(f"'{full_name}' is not a fully qualified node name such as /capture or /robot1/capture")
    namespace, _, name = full_name.rpartition("/")
    return namespace or "/", name


def expand(name: str, namespace: str, node: str) -> str:
    """rcl_expand_topic_name: '~' is the node's full name, a relative name goes into the
    namespace, an absolute one stays."""
    base = namespace.rstrip("/")
    if name.startswith("~"):
        expanded = f"{base}/{node}{name[1:]}"
    elif name.startswith("/"):
        expanded = name
    else:
        expanded = f"{base}/{name}"
    if not _valid_absolute(expanded):
        raise SecurityError(f"'{name}' does not expand to a valid ROS name in namespace '{namespace}' ({expanded})")
    return expanded


@dataclass(frozen=True)
class Remap:
    source: str
    target: str

    @staticmethod
    def parse(rule: str) -> "Remap":
        source, sep, target = rule.partition(":=")
        if not sep or not source or not target or ":" in source:
            raise SecurityError(f"bad remap rule '{rule}': expected FROM:=TO (node-specific rules 'node:FROM:=TO' are not supported)")
        return Remap(source, target)


def resolve(name: str, namespace: str, node: str, remaps: Iterable[Remap] = ()) -> str:
    """The name the node ends up using: expanded, then the first remap rule whose expanded
    source matches it (rcl_remap_topic_name / rcl_remap_service_name)."""
    expanded = expand(name, namespace, node)
    for rule in remaps:
        if rule.source.startswith("__"):
            continue
        if expand(rule.source, namespace, node) == expanded:
            return expand(rule.target, namespace, node)
    return expanded


# -- permissions -------------------------------------------------------------------------------

@dataclass
class NodeSpec:
    """One node to secure: its full name, its executable, remaps, use_sim_time, its enclave."""

    full_name: str
    executable: str
    remaps: tuple[Remap, ...] = ()
    sim_time: bool = False
    enclave: str | None = None  # default: the node's full name

    @property
    def enclave_path(self) -> str:
        return self.enclave or self.full_name


@dataclass
class Permissions:
    """DDS topic names a grant allows to publish and to subscribe to."""

    publish: set[str]
    subscribe: set[str]


def node_permissions(spec: NodeSpec) -> Permissions:
    """The DDS topics of the node's own topics, services and actions, as sros2's permissions
    template names them."""
    if spec.executable not in NODE_INTERFACES:
        raise SecurityError(f"unknown interseg executable '{spec.executable}' (known: {', '.join(sorted(NODE_INTERFACES))})")
    namespace, node = split_node_name(spec.full_name)
    parts = [NODE_INTERFACES[spec.executable], EVERY_NODE] + ([SIM_TIME] if spec.sim_time else [])
    publish: set[str] = set()
    subscribe: set[str] = set()

    def names(kind: str) -> list[str]:
        return [resolve(n, namespace, node, spec.remaps) for part in parts for n in getattr(part, kind)]

    for topic in names("publish"):
        publish.add(f"rt{topic}")
    for topic in names("subscribe"):
        subscribe.add(f"rt{topic}")
    for service in names("reply"):
        publish.add(f"rr{service}Reply")
        subscribe.add(f"rq{service}Request")
    for service in names("request"):
        publish.add(f"rq{service}Request")
        subscribe.add(f"rr{service}Reply")
    for action in names("execute"):
        publish.update(f"rr{action}/_action/{s}Reply" for s in _ACTION_SERVICES)
        publish.update(f"rt{action}/_action/{t}" for t in _ACTION_TOPICS)
        subscribe.update(f"rq{action}/_action/{s}Request" for s in _ACTION_SERVICES)
    for action in names("call"):
        publish.update(f"rq{action}/_action/{s}Request" for s in _ACTION_SERVICES)
        subscribe.update(f"rr{action}/_action/{s}Reply" for s in _ACTION_SERVICES)
        subscribe.update(f"rt{action}/_action/{t}" for t in _ACTION_TOPICS)
    return Permissions(publish, subscribe)


def _domains(parent: ElementTree.Element, domain_id: int) -> None:
    ElementTree.SubElement(ElementTree.SubElement(parent, "domains"), "id").text = str(domain_id)


def _topics(parent: ElementTree.Element, tag: str, names: Iterable[str]) -> None:
    topics = ElementTree.SubElement(ElementTree.SubElement(parent, tag), "topics")
    for name in sorted(names):
        ElementTree.SubElement(topics, "topic").text = name


def _document(root: ElementTree.Element) -> bytes:
    ElementTree.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="utf-8") + b"\n"


_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def governance_xml(domain_id: int) -> bytes:
    """sros2's default governance: only authenticated participants join, discovery, liveliness
    and every topic's data encrypted, read and write access control on every topic."""
    root = ElementTree.Element("dds", {"xmlns:xsi": _XSI, "xsi:noNamespaceSchemaLocation":
                                       "http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_governance.xsd"})
    rule = ElementTree.SubElement(ElementTree.SubElement(root, "domain_access_rules"), "domain_rule")
    _domains(rule, domain_id)
    for tag, text in (("allow_unauthenticated_participants", "false"), ("enable_join_access_control", "true"),
                      ("discovery_protection_kind", "ENCRYPT"), ("liveliness_protection_kind", "ENCRYPT"),
                      ("rtps_protection_kind", "ENCRYPT")):
        ElementTree.SubElement(rule, tag).text = text
    topic_rule = ElementTree.SubElement(ElementTree.SubElement(rule, "topic_access_rules"), "topic_rule")
    for tag, text in (("topic_expression", "*"), ("enable_discovery_protection", "true"), ("enable_liveliness_protection", "true"),
                      ("enable_read_access_control", "true"), ("enable_write_access_control", "true"),
                      ("metadata_protection_kind", "ENCRYPT"), ("data_protection_kind", "ENCRYPT")):
        ElementTree.SubElement(topic_rule, tag).text = text
    return _document(root)


def permissions_xml(enclave: str, permissions: Permissions, domain_id: int,
                    not_before: datetime.datetime, not_after: datetime.datetime) -> bytes:
    """One grant for the enclave's certificate subject, valid as long as the certificate: allow
    the node's topics, and ros_discovery_info, deny everything else."""
    root = ElementTree.Element("dds", {"xmlns:xsi": _XSI, "xsi:noNamespaceSchemaLocation":
                                       "http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd"})
    grant = ElementTree.SubElement(ElementTree.SubElement(root, "permissions"), "grant", {"name": enclave})
    ElementTree.SubElement(grant, "subject_name").text = f"CN={enclave}"
    validity = ElementTree.SubElement(grant, "validity")
    ElementTree.SubElement(validity, "not_before").text = not_before.strftime("%Y-%m-%dT%H:%M:%S")
    ElementTree.SubElement(validity, "not_after").text = not_after.strftime("%Y-%m-%dT%H:%M:%S")
    allow = ElementTree.SubElement(grant, "allow_rule")
    _domains(allow, domain_id)
    if permissions.publish:
        _topics(allow, "publish", permissions.publish)
    if permissions.subscribe:
        _topics(allow, "subscribe", permissions.subscribe)
    discovery = ElementTree.SubElement(grant, "allow_rule")
    _domains(discovery, domain_id)
    _topics(discovery, "publish", [ROS_DISCOVERY_TOPIC])
    _topics(discovery, "subscribe", [ROS_DISCOVERY_TOPIC])
    ElementTree.SubElement(grant, "default").text = "DENY"
    return _document(root)


def read_permissions(path: Path) -> tuple[str, Permissions]:
    """The subject name and the allowed topics of the node's grant in a permissions.xml."""
    grant = ElementTree.parse(path).getroot().find("permissions/grant")
    if grant is None:
        raise SecurityError(f"{path}: no grant")
    rules = grant.findall("allow_rule")
    allowed = Permissions(set(), set())
    for rule in rules:
        allowed.publish |= {t.text or "" for t in rule.findall("publish/topics/topic")}
        allowed.subscribe |= {t.text or "" for t in rule.findall("subscribe/topics/topic")}
    allowed.publish.discard(ROS_DISCOVERY_TOPIC)
    allowed.subscribe.discard(ROS_DISCOVERY_TOPIC)
    return grant.findtext("subject_name") or "", allowed


# -- certificates and signatures (cryptography) ------------------------------------------------

def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import pkcs7
    except ImportError:
        raise SecurityError("the 'cryptography' package is missing (pip install -r requirements.txt)") from None
    return x509, hashes, serialization, ec, pkcs7


def _key_and_certificate(common_name: str, *, issuer=None, issuer_key=None):
    """A P-256 key (DDS Security's PKI-DH uses prime256v1) and its X.509 certificate: a CA
    (self-signed, may sign one level) when no issuer is given, else an end entity."""
    x509, hashes, _, ec, _ = _crypto()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    is_ca = issuer is None
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(subject if is_ca else issuer.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=1 if is_ca else None), critical=is_ca))
    certificate = builder.sign(key if is_ca else issuer_key, hashes.SHA256())
    return key, certificate


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _write_key(path: Path, key) -> None:
    _, _, serialization, _, _ = _crypto()
    _write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


def _write_certificate(path: Path, certificate) -> None:
    _, _, serialization, _, _ = _crypto()
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _load(keystore: Path, kind: str):
    """The keystore's ``kind`` CA (identity or permissions): certificate and private key."""
    x509, _, serialization, _, _ = _crypto()
    certificate = x509.load_pem_x509_certificate((keystore / PUBLIC / f"{kind}_ca.cert.pem").read_bytes())
    key = serialization.load_pem_private_key((keystore / PRIVATE / f"{kind}_ca.key.pem").read_bytes(), None)
    return certificate, key


def _sign(content: bytes, certificate, key) -> bytes:
    """S/MIME with a detached signature over the text, as Fast DDS reads governance and
    permissions documents (what sros2 writes)."""
    _, hashes, serialization, _, pkcs7 = _crypto()
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(certificate, key, hashes.SHA256())
    return builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Text, pkcs7.PKCS7Options.DetachedSignature])


def _link(path: Path, target: Path) -> None:
    """A relative symbolic link ``path`` -> ``target``, replacing what was there."""
    relative = os.path.relpath(target, path.parent)
    if path.is_symlink() or path.exists():
        if path.is_symlink() and os.readlink(path) == relative:
            return
        path.unlink()
    path.symlink_to(relative)


# -- keystore and enclaves -------------------------------------------------------------------

def is_keystore(path: Path) -> bool:
    """sros2's is_valid_keystore: both CAs' certificates and keys, and the signed governance."""
    return all((path / p).is_file() for p in (f"{PUBLIC}/permissions_ca.cert.pem", f"{PUBLIC}/identity_ca.cert.pem",
                                              f"{PRIVATE}/permissions_ca.key.pem", f"{PRIVATE}/identity_ca.key.pem",
                                              f"{ENCLAVES}/governance.p7s"))


def default_domain_id() -> int:
    return int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)


def create_keystore(path: Path, domain_id: int) -> None:
    """A new keystore at ``path``: one CA serving as identity and permissions CA, and the
    signed governance for ``domain_id``."""
    if is_keystore(path):
        raise SecurityError(f"{path}: already a keystore (its CA signs the existing enclaves; remove the folder to start over)")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise SecurityError(f"{path}: exists and is not an empty folder")
    for folder in (path, path / PUBLIC, path / ENCLAVES):
        folder.mkdir(parents=True, exist_ok=True)
    (path / PRIVATE).mkdir(mode=0o700, exist_ok=True)
    key, certificate = _key_and_certificate(CA_NAME)
    _write_key(path / PRIVATE / "ca.key.pem", key)
    _write_certificate(path / PUBLIC / "ca.cert.pem", certificate)
    for kind in ("identity", "permissions"):
        _link(path / PUBLIC / f"{kind}_ca.cert.pem", path / PUBLIC / "ca.cert.pem")
        _link(path / PRIVATE / f"{kind}_ca.key.pem", path / PRIVATE / "ca.key.pem")
    governance = governance_xml(domain_id)
    (path / ENCLAVES / "governance.xml").write_bytes(governance)
    (path / ENCLAVES / "governance.p7s").write_bytes(_sign(governance, certificate, key))


def enclave_dir(keystore: Path, enclave: str) -> Path:
    if not _valid_absolute(enclave) or enclave == "/":
        raise SecurityError(f"'{enclave}' is not a valid enclave name (an absolute name such as /robot1/capture)")
    return keystore / ENCLAVES / enclave.lstrip("/")


def create_enclave(keystore: Path, spec: NodeSpec, domain_id: int) -> Path:
    """The enclave of one node: identity (kept if it exists), CA and governance links, and the
    node's permissions, signed. Returns its folder."""
    if not is_keystore(keystore):
        raise SecurityError(f"{keystore}: not a keystore (create it with `interseg security keystore {keystore}`)")
    permissions = node_permissions(spec)
    folder = enclave_dir(keystore, spec.enclave_path)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("identity_ca.cert.pem", "permissions_ca.cert.pem"):
        _link(folder / name, keystore / PUBLIC / name)
    _link(folder / "governance.p7s", keystore / ENCLAVES / "governance.p7s")
    x509, _, _, _, _ = _crypto()
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    else:
        identity_ca, identity_key = _load(keystore, "identity")
        key, certificate = _key_and_certificate(spec.enclave_path, issuer=identity_ca, issuer_key=identity_key)
        _write_key(key_path, key)
        _write_certificate(cert_path, certificate)
    document = permissions_xml(spec.enclave_path, permissions, domain_id,
                               certificate.not_valid_before_utc, certificate.not_valid_after_utc)
    (folder / "permissions.xml").write_bytes(document)
    permissions_ca, permissions_key = _load(keystore, "permissions")
    (folder / "permissions.p7s").write_bytes(_sign(document, permissions_ca, permissions_key))
    return folder


# -- nodes of a launch file --------------------------------------------------------------------

def _true(text: str) -> bool:
    return text.strip().strip("'\"").lower() in ("true", "1", "yes", "on")


def node_from_command(command: list[str], display: str) -> NodeSpec:
    """A node's name, namespace, remaps, use_sim_time and enclave from the command line the
    launch-file reader builds (``--ros-args -r __node:=... -r __ns:=... -r a:=b -p x:=y
    --enclave E``)."""
    executable = Path(command[0]).name
    if "--ros-args" not in command:
        raise SecurityError(f"{display}: not a ROS node command")
    ros_args = command[command.index("--ros-args") + 1:]
    name, namespace, remaps, sim_time, enclave = None, "/", [], False, None
    i = 0
    while i < len(ros_args):
        flag = ros_args[i]
        value = ros_args[i + 1] if i + 1 < len(ros_args) else ""
        if flag in ("-r", "--remap"):
            rule = Remap.parse(value)
            if rule.source == "__node" or rule.source == "__name":
                name = rule.target
            elif rule.source == "__ns":
                namespace = rule.target
            else:
                remaps.append(rule)
            i += 2
        elif flag in ("-p", "--param"):
            parameter, _, text = value.partition(":=")
            if parameter == "use_sim_time":
                sim_time = _true(text)
            i += 2
        elif flag in ("-e", "--enclave"):
            enclave = value
            i += 2
        elif flag in ("--params-file", "--log-level", "--log-config-file"):
            i += 2
        else:
            i += 1
    if executable not in NODE_INTERFACES:
        raise SecurityError(f"{display}: '{executable}' is not an interseg node (known: {', '.join(sorted(NODE_INTERFACES))})")
    name = name or NODE_INTERFACES[executable].node
    full_name = f"{namespace.rstrip('/')}/{name}" if namespace.startswith("/") else f"/{namespace.strip('/')}/{name}"
    return NodeSpec(full_name, executable, tuple(remaps), sim_time, enclave)


def nodes_of_launch_file(path: str, arguments: list[str]) -> list[NodeSpec]:
    """Every interseg node the launch file starts with these arguments, as started."""
    from interseg.supervision.launch_file import read_launch_file
    from interseg.supervision.plan import LaunchError, parse_cli_arguments

    try:
        plan = read_launch_file(path, parse_cli_arguments(arguments))
    except LaunchError as exc:
        raise SecurityError(str(exc)) from None
    specs = [node_from_command(p.command, p.name) for p in plan.processes if p.is_node]
    if not specs:
        raise SecurityError(f"{path}: starts no interseg node")
    return specs


# -- command line ------------------------------------------------------------------------------

class _OneLineParser(argparse.ArgumentParser):
    """Bad command lines get one line and exit code 2, like every other bad input here."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="interseg security",
        description="SROS2 keystores for the interseg nodes (a full ROS 2 install runs them secured; "
                    "the ROS 2 wheels' Fast DDS has no DDS Security plugins).")
    commands = parser.add_subparsers(dest="command", required=True)
    keystore = commands.add_parser("keystore", help="create a keystore: CA, governance (ros2 security create_keystore)")
    keystore.add_argument("keystore", type=Path)
    keystore.add_argument("--domain-id", type=int, default=None, help="DDS domain of the governance (default: ROS_DOMAIN_ID or 0)")
    enclave = commands.add_parser(
        "enclave", help="create node enclaves: identity and permissions limited to each node's own names",
        description="One enclave per node, with permissions for exactly the node's own topics, services and actions. "
                    "--launch FILE [name:=value ...] secures every interseg node the launch file starts (its "
                    "namespace, remaps, use_sim_time and --enclave); --node /ns/name[=EXECUTABLE] one node as "
                    "started by hand (with --remap and --sim-time as you start it).")
    enclave.add_argument("keystore", type=Path)
    enclave.add_argument("--launch", nargs="+", metavar=("FILE", "name:=value"), help="launch file whose nodes to secure, and its arguments")
    enclave.add_argument("--node", action="append", default=[], metavar="/NS/NAME[=EXECUTABLE]",
                         help="a node's full name; the executable defaults to the interseg node of that name")
    enclave.add_argument("--remap", action="append", default=[], metavar="FROM:=TO", help="a remap rule the --node nodes run with")
    enclave.add_argument("--sim-time", action="store_true", help="the --node nodes run with use_sim_time (they subscribe to /clock)")
    enclave.add_argument("--enclave", help="enclave path of the single --node (default: the node's full name)")
    enclave.add_argument("--domain-id", type=int, default=None, help="DDS domain of the permissions (default: ROS_DOMAIN_ID or 0)")
    show = commands.add_parser("permissions", help="print the DDS topics a node's permissions allow (no files written)")
    show.add_argument("--node", action="append", required=True, metavar="/NS/NAME[=EXECUTABLE]")
    show.add_argument("--remap", action="append", default=[], metavar="FROM:=TO")
    show.add_argument("--sim-time", action="store_true")
    return parser


def _node_specs(args) -> list[NodeSpec]:
    remaps = tuple(Remap.parse(r) for r in args.remap)
    specs = []
    for item in args.node:
        full_name, _, executable = item.partition("=")
        split_node_name(full_name)
        executable = executable or executable_for(full_name.rpartition("/")[2])
        specs.append(NodeSpec(full_name, executable, remaps, args.sim_time))
    return specs


def _enclave(args) -> list[Path]:
    if bool(args.launch) == bool(args.node):
        raise SecurityError("give either --launch FILE or --node /ns/name (one or more)")
    if args.launch:
        if args.remap or args.sim_time or args.enclave:
            raise SecurityError("--remap, --sim-time and --enclave go with --node; with --launch they come from the launch file")
        specs = nodes_of_launch_file(args.launch[0], args.launch[1:])
    else:
        specs = _node_specs(args)
        if args.enclave:
            if len(specs) != 1:
                raise SecurityError("--enclave names the enclave of a single --node")
            specs[0].enclave = args.enclave
    enclaves = [s.enclave_path for s in specs]
    repeated = sorted({e for e in enclaves if enclaves.count(e) > 1})
    if repeated:
        raise SecurityError(f"several nodes would share the enclave {', '.join(repeated)}; give each its own --enclave")
    domain_id = default_domain_id() if args.domain_id is None else args.domain_id
    return [create_enclave(args.keystore, spec, domain_id) for spec in specs]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keystore":
            create_keystore(args.keystore, default_domain_id() if args.domain_id is None else args.domain_id)
            print(f"keystore {args.keystore}: CA in public/ and private/, governance in enclaves/")
        elif args.command == "enclave":
            for folder in _enclave(args):
                print(f"enclave {folder}")
        else:
            for spec in _node_specs(args):
                permissions = node_permissions(spec)
                for topic in sorted(permissions.publish):
                    print(f"{spec.full_name} publish   {topic}")
                for topic in sorted(permissions.subscribe):
                    print(f"{spec.full_name} subscribe {topic}")
    except (SecurityError, OSError) as exc:
        print(f"interseg security: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
