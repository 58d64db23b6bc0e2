"""The seed's ROS classes (tensor_ipc.ros) over the bridge's DDS: a
ROSTensorProducer's frames reach a ROSTensorConsumer's pool through ROS 2's wire
format (one process, one DDS domain of the test's own on loopback; across
processes the C++ bridge tests cover the same DDS path), each frame compared.
Skipped where the library was built without the bridge."""

import random

import numpy as np
import pytest

from conftest import wait_until
from tensor_ipc import (InvalidArgumentError, MetadataCreator, ROSNode, ROSTensorConsumer,
                        ROSTensorProducer, TensorConsumer)
from tensor_ipc import ros

pytestmark = pytest.mark.skipif(not ros.available, reason="built without the ROS 2 bridge")


@pytest.fixture
def node():
    # A domain of its own, on loopback only: parallel tests never see each other.
    return ROSNode("test", domain_id=random.randint(1, 200), localhost_only=True)


def image(seq, h=24, w=32):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((x + 2 * y + 85 * c + 7 * seq) % 256).astype(np.uint8)


def test_images_travel_from_a_producer_to_a_consumer_pool(daemon, pool_name, node):
    sample = image(0)
    topic = f"/tipc_test/{pool_name}"
    md_out = MetadataCreator.from_sample(pool_name + "_out", sample, history_len=4,
                                         backend="numpy")
    md_in = MetadataCreator.from_sample(pool_name + "_in", sample, history_len=8,
                                        backend="numpy")
    got = []
    consumer = ROSTensorConsumer(md_in, node, topic, "sensor_msgs/msg/Image",
                                 on_new_data_callback=got.append)
    producer = ROSTensorProducer(md_out, node, topic, "sensor_msgs/msg/Image",
                                 encoding="rgb8")
    try:
        wait_until(lambda: consumer.matched_publications >= 1 and
                   producer.matched_subscriptions >= 1, what="the topic to match")
        for seq in range(1, 6):
            assert producer.put(image(seq), encoding="rgb8") == seq % 4
        wait_until(lambda: consumer.ros_status()["written"] == 5, what="5 messages in the pool")
        last = consumer.get(history_len=5, latest_first=False)
        for i, seq in enumerate(range(1, 6)):
            assert np.array_equal(last[i], image(seq))
        wait_until(lambda: len(got) == 5, what="5 callbacks")
        assert all(np.array_equal(f, image(s)) for f, s in zip(got, range(1, 6)))
        assert consumer.ros_status()["rejected"] == 0
        # The producer's own pool has them too, for local consumers.
        local = TensorConsumer(md_out)
        assert np.array_equal(local.get(), image(5))
        local.cleanup()
        with pytest.raises(InvalidArgumentError):
            producer.put(image(6), encoding="bgr8")  # one encoding per producer
    finally:
        producer.cleanup()
        consumer.cleanup()


def test_multi_arrays_and_message_classes(daemon, pool_name, node):
    class Float32MultiArray:  # what rclpy's generated class looks like from outside
        __module__ = "std_msgs.msg._float32_multi_array"

    frame = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    topic = f"/tipc_test/{pool_name}"
    md_out = MetadataCreator.from_sample(pool_name + "_out", frame, history_len=2, backend="numpy")
    md_in = MetadataCreator.from_sample(pool_name + "_in", frame, history_len=2, backend="numpy")
    consumer = ROSTensorConsumer(md_in, node, topic, Float32MultiArray)
    producer = ROSTensorProducer(md_out, node, topic, "std_msgs/Float32MultiArray")
    try:
        wait_until(lambda: consumer.matched_publications >= 1, what="the topic to match")
        producer.put(frame)
        wait_until(lambda: consumer.get() is not None, what="the frame in the pool")
        assert np.array_equal(consumer.get(), frame)
    finally:
        producer.cleanup()
        consumer.cleanup()


def test_refusals_say_why(daemon, pool_name, node):
    floats = MetadataCreator.from_sample(pool_name, np.zeros((4, 4, 3), np.float32),
                                         history_len=1, backend="numpy")
    with pytest.raises(ValueError):  # a float32 pool cannot be rgb8
        ROSTensorProducer(floats, node, "/tipc_test/x", "sensor_msgs/msg/Image", encoding="rgb8")
    with pytest.raises(ValueError, match="unknown ROS message type"):
        ROSTensorProducer(floats, node, "/tipc_test/x", "geometry_msgs/msg/Twist")
    with pytest.raises(TypeError, match="ROSNode"):
        ROSTensorProducer(floats, object(), "/tipc_test/x", "std_msgs/msg/Float32MultiArray")
