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

Modules: ``policy`` (what each node creates, ROS name resolution, a node's permissions),
``documents`` (governance and permissions XML), ``keystore`` (certificates, signatures, the
keystore and its enclaves), ``cli`` (``interseg security ...`` and the nodes of a launch file).
"""
