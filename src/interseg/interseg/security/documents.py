"""The DDS Security XML documents: sros2's governance, a node's permissions grant, and reading
a grant back."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from pathlib import Path

from interseg.security.policy import ROS_DISCOVERY_TOPIC, Permissions, SecurityError


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
    root = ElementTree.Element(
        "dds",
        {
            "xmlns:xsi": _XSI,
            "xsi:noNamespaceSchemaLocation": "http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_governance.xsd",
        },
    )
    rule = ElementTree.SubElement(ElementTree.SubElement(root, "domain_access_rules"), "domain_rule")
    _domains(rule, domain_id)
    for tag, text in (
        ("allow_unauthenticated_participants", "false"),
        ("enable_join_access_control", "true"),
        ("discovery_protection_kind", "ENCRYPT"),
        ("liveliness_protection_kind", "ENCRYPT"),
        ("rtps_protection_kind", "ENCRYPT"),
    ):
        ElementTree.SubElement(rule, tag).text = text
    topic_rule = ElementTree.SubElement(ElementTree.SubElement(rule, "topic_access_rules"), "topic_rule")
    for tag, text in (
        ("topic_expression", "*"),
        ("enable_discovery_protection", "true"),
        ("enable_liveliness_protection", "true"),
        ("enable_read_access_control", "true"),
        ("enable_write_access_control", "true"),
        ("metadata_protection_kind", "ENCRYPT"),
        ("data_protection_kind", "ENCRYPT"),
    ):
        ElementTree.SubElement(topic_rule, tag).text = text
    return _document(root)


def permissions_xml(
    enclave: str, permissions: Permissions, domain_id: int, not_before: datetime.datetime, not_after: datetime.datetime
) -> bytes:
    """One grant for the enclave's certificate subject, valid as long as the certificate: allow
    the node's topics, and ros_discovery_info, deny everything else."""
    root = ElementTree.Element(
        "dds",
        {
            "xmlns:xsi": _XSI,
            "xsi:noNamespaceSchemaLocation": "http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd",
        },
    )
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
