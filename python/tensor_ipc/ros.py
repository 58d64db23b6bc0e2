"""ROSTensorProducer and ROSTensorConsumer: pools that are ROS 2 topics too.

The original package's ROS extensions, on ROS 2's own DDS wire format through
Cyclone DDS (the library's ros2/ bridge): no ROS install is needed, and ROS 2
nodes see ordinary topics. Where the seed takes an ``rclpy`` node, this takes a
:class:`ROSNode`, a DDS participant that joins the domain as a ROS node would
(``ROS_DOMAIN_ID``, ``ROS_LOCALHOST_ONLY`` / ``ROS_AUTOMATIC_DISCOVERY_RANGE``).
``ros_msg_type`` is ``sensor_msgs/msg/Image`` or a ``std_msgs/msg/*MultiArray``,
as a string or as the message class (``sensor_msgs.msg.Image`` where rclpy's
generated classes exist).

Available when the library was built with the bridge (Cyclone DDS found):
``tensor_ipc.ros.available``.
"""

import time

import numpy as np

from . import _core
from ._common import DEFAULT_CONNECT_TIMEOUT, check_socket_args
from .consumer import TensorConsumer
from .errors import InvalidArgumentError
from .metadata import _core_args
from .producer import TensorProducer

__all__ = ["ROSNode", "ROSTensorProducer", "ROSTensorConsumer", "available"]

available = bool(getattr(_core, "built_with_ros2", False))


def _require():
    if not available:
        raise NotImplementedError(
            "this tensor_ipc was built without the ROS 2 bridge: install cyclonedds-dev and "
            "cyclonedds-tools and rebuild (TENSORIPC_ROS2=ON)")


def ros_type_name(ros_msg_type):
    """"sensor_msgs/msg/Image" for that string, "sensor_msgs/Image", or a message class
    (its module sensor_msgs.msg..., its name Image)."""
    if isinstance(ros_msg_type, str):
        parts = ros_msg_type.split("/")
        if len(parts) == 2:
            return f"{parts[0]}/msg/{parts[1]}"
        return ros_msg_type
    module = getattr(ros_msg_type, "__module__", "") or ""
    name = getattr(ros_msg_type, "__name__", "")
    package = module.split(".")[0]
    if not package or not name:
        raise TypeError(f"ros_msg_type must be a message class or a name such as "
                        f"'sensor_msgs/msg/Image', got {ros_msg_type!r}")
    return f"{package}/msg/{name}"


class ROSNode:
    """A DDS participant standing in for the seed's rclpy node.

    ``domain_id``: default ``ROS_DOMAIN_ID``, else 0. ``localhost_only``: default
    from the ROS environment variables. ``large_frames``: transport settings for
    camera-sized frames (MBs; see the README's ROS 2 section). ``name`` is for people.
    """

    def __init__(self, name="tensor_ipc", domain_id=None, localhost_only=None,
                 large_frames=False):
        _require()
        self.name = name
        self._participant = _core.ros2.Participant(domain_id, localhost_only, bool(large_frames))

    @property
    def domain_id(self):
        return self._participant.domain_id

    def __repr__(self):
        return f"ROSNode({self.name!r}, domain_id={self.domain_id})"


def _participant(node):
    if isinstance(node, ROSNode):
        return node._participant
    raise TypeError(f"node must be a tensor_ipc.ros.ROSNode (this bridge speaks DDS itself and "
                    f"needs no rclpy), got {type(node).__name__}")


def _host_array(data):
    """The frame as a contiguous host numpy array (a torch tensor through .cpu())."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data)
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch
        return np.ascontiguousarray(data.detach().cpu().numpy())
    return np.ascontiguousarray(np.asarray(data))


class ROSTensorProducer:
    """A producer whose ``put`` writes the pool AND publishes the frame on a ROS 2 topic.

    ``qos``: the reliable queue depth (ROS's default profile), or ``best_effort=True``
    for the sensor-data profile. ``keep_last``: the DDS history depth (0 keeps
    ``qos``). ``encoding`` (Images): "rgb8", "mono16", "32FC1", ...; default from the
    pool's shape and dtype, or the first ``put(..., encoding=)``. The pool is claimed
    as a TensorProducer's is (TopicTakenError, MetadataMismatchError, ...); a pool
    that cannot travel as ``ros_msg_type`` (a float32 pool as rgb8) is a ValueError.
    """

    def __init__(self, pool_metadata, node, ros_topic, ros_msg_type, qos=10, keep_last=10,
                 dds_participant=None, *, encoding=None, frame_id="", best_effort=False,
                 socket_path=None, connect_timeout=DEFAULT_CONNECT_TIMEOUT):
        _require()
        self._writer = None
        self._participant = _participant(node)
        self._type = ros_type_name(ros_msg_type)
        self._topic = ros_topic
        self._qos = int(qos)
        self._keep_last = int(keep_last)
        self._best_effort = bool(best_effort)
        self._frame_id = frame_id
        self.dds_participant = dds_participant
        self.pool_metadata = pool_metadata
        if self._type != "sensor_msgs/msg/Image" or encoding is not None:
            self._make_writer(encoding or "")
        self._producer = TensorProducer(pool_metadata, keep_last=keep_last,
                                        socket_path=socket_path, connect_timeout=connect_timeout)

    def _make_writer(self, encoding):
        md = self.pool_metadata
        self._writer = _core.ros2.TopicWriter(
            self._participant, self._topic, self._type, list(md.shape), md.dtype_str, self._qos,
            self._best_effort, self._keep_last, encoding, self._frame_id)

    def put(self, data, *args, encoding=None, **kwargs):
        """Writes ``data`` into the pool, then publishes it; returns the frame index."""
        if self._writer is None:
            self._make_writer(encoding or "")
        elif encoding is not None and encoding != self._writer.encoding:
            raise InvalidArgumentError(
                f"topic {self._topic} publishes {self._writer.encoding}, not {encoding}: one "
                "encoding per producer")
        index = self._producer.put(data, *args, **kwargs)
        self._writer.write(_host_array(data), time.time_ns())
        return index

    @property
    def matched_subscriptions(self):
        """ROS subscriptions (and bridges) matched to the topic now."""
        return self._writer.matched_subscriptions if self._writer is not None else 0

    def cleanup(self):
        if self._writer is not None:
            self._writer.cleanup()
        self._producer.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


class ROSTensorConsumer:
    """Subscribes to a ROS 2 topic and writes every message into a pool (this process
    is its producer), where ``get``, the callback and any local TensorConsumer read it.

    Messages that do not fit the pool (another shape or dtype) are counted in
    ``ros_status()["rejected"]`` and dropped. ``get(history_len, as_numpy,
    latest_first)`` is TensorConsumer's.
    """

    def __init__(self, pool_metadata, node, ros_topic, ros_msg_type, qos=10, keep_last=10,
                 dds_participant=None, on_new_data_callback=None, *, best_effort=False,
                 socket_path=None, connect_timeout=DEFAULT_CONNECT_TIMEOUT, notify="stream"):
        _require()
        self._bridge = None
        self._consumer = None
        path, timeout = check_socket_args(socket_path, connect_timeout)
        self.dds_participant = dds_participant
        self._bridge = _core.ros2.TopicToPool(
            _participant(node), _core_args(pool_metadata), ros_topic,
            ros_type_name(ros_msg_type), int(qos), bool(best_effort), int(keep_last), path,
            timeout)
        self._consumer = TensorConsumer(pool_metadata, keep_last=keep_last,
                                        on_new_data_callback=on_new_data_callback,
                                        socket_path=socket_path, connect_timeout=connect_timeout,
                                        notify=notify)

    def get(self, history_len=1, as_numpy=False, latest_first=True):
        return self._consumer.get(history_len=history_len, as_numpy=as_numpy,
                                  latest_first=latest_first)

    def view(self):
        return self._consumer.view()

    def wait_for_frame(self, timeout=None):
        return self._consumer.wait_for_frame(timeout)

    def status(self):
        """The pool side: TensorConsumer.status()."""
        return self._consumer.status()

    def ros_status(self):
        """The topic side: received, written (into the pool), rejected, last_error."""
        return self._bridge.status()

    @property
    def matched_publications(self):
        """ROS publishers (and bridges) matched to the topic now."""
        return self._bridge.matched_publications

    @property
    def metadata(self):
        return self._consumer.metadata

    def cleanup(self):
        if self._consumer is not None:
            self._consumer.cleanup()
        if self._bridge is not None:
            self._bridge.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
