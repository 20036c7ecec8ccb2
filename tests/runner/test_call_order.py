"""The actor runs the driver's numbered calls in number order, whatever order their threads start in."""

import threading
import time

from agiqa.runner.ray.actor import CallOrder


def test_calls_pass_in_number_order_when_threads_start_in_reverse():
    order, ran = CallOrder(), []
    threads = [threading.Thread(target=order.run_in_turn, args=(seq, ran.append, seq)) for seq in (3, 2, 1, 0)]
    for t in threads:  # highest number first: without the turnstile they would run 3, 2, 1, 0
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=10)
    assert ran == [0, 1, 2, 3]


def test_a_failing_call_still_lets_the_next_one_through():
    order, ran = CallOrder(), []

    def boom():
        raise RuntimeError("shard failed")

    t = threading.Thread(target=order.run_in_turn, args=(1, ran.append, 1))
    t.start()
    try:
        order.run_in_turn(0, boom)
    except RuntimeError:
        pass
    t.join(timeout=10)
    assert ran == [1]
