"""kombu's Redis transport, with a message taken off its queue and recorded as unacked in one
step, so no crash of the worker nor stop of Redis can lose it in between.

kombu waits for messages with BRPOP and records what it got as unacked (ZADD + HSET) only
once the reply is read. Two kinds of message were lost in that gap (``make chaos``: "lost:
foreign job chaos-59: no task row; its message is nowhere in Redis"):

- a worker killed while it waits: its socket stays open until the kernel has torn the process
  down (the memory first, the files after: tens of milliseconds for a worker's heap), and Redis
  hands the next message to that socket (tests/e2e/test_consumer_death.py);
- Redis stopping between the pop and the record (worker/app/redis_restore.py waits the restart
  out), or as it writes the reply of a pop it has already persisted.

Here a Lua script pops the first message from the queues, in BRPOP's order, and records it in
kombu's unacked hash and index in the same atomic step; kombu's own restore sweep hands it out
again if nobody acks it within the visibility timeout. A script cannot block, so when every
queue is empty the channel waits (``idle_poll_max_seconds``, growing from 2 ms) before it asks
again: an idle worker asks Redis about 50 times a second, and a message sent to an idle fleet
waits up to that long. A busy worker asks again at once.

A list entry without kombu's envelope (no delivery tag: not sent by kombu) is popped unrecorded,
as BRPOP did; kombu cannot take it either way.
"""

from __future__ import annotations

import time
from typing import Any

import kombu.transport as kombu_transport
from kombu.transport import redis, virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

#: KEYS: the unacked hash, the unacked index, then the queues in the order BRPOP tries them.
#: ARGV[1]: now (the index's score); ARGV[1 + n]: "1" to record a message from the n-th queue
#: (a consumer that acks), "0" for one consumed without acks (a reply queue).
POP_AND_RECORD = """
for i = 3, #KEYS do
  local item = redis.call('RPOP', KEYS[i])
  if item then
    local recorded = 0
    if ARGV[i - 1] == '1' then
      local ok, message = pcall(cjson.decode, item)
      if ok and type(message) == 'table' and type(message['properties']) == 'table' then
        local properties = message['properties']
        local tag, info = properties['delivery_tag'], properties['delivery_info']
        if type(tag) == 'string' and type(info) == 'table' then
          local exchange, routing_key = info['exchange'], info['routing_key']
          if exchange == nil then exchange = cjson.null end
          if routing_key == nil then routing_key = cjson.null end
          redis.call('ZADD', KEYS[2], ARGV[1], tag)
          redis.call('HSET', KEYS[1], tag, '[' .. item .. ',' .. cjson.encode(exchange)
            .. ',' .. cjson.encode(routing_key) .. ']')
          recorded = 1
        end
      end
    end
    return {KEYS[i], item, recorded}
  end
end
return false
"""

#: The first wait after the queues were found empty; it doubles up to ``idle_poll_max_seconds``.
FIRST_IDLE_WAIT_SECONDS = 0.002


class QoS(redis.QoS):
    def append(self, message: Any, delivery_tag: Any) -> None:
        """Skip the ZADD + HSET for a message the pop already recorded."""
        if delivery_tag in self.channel.recorded_by_pop:
            self.channel.recorded_by_pop.discard(delivery_tag)
            virtual.QoS.append(self, message, delivery_tag)
            return
        super().append(message, delivery_tag)


class Channel(redis.Channel):
    QoS = QoS

    #: The longest wait between two looks at empty queues.
    idle_poll_max_seconds = 0.02

    from_transport_options = (  # type: ignore[assignment]  # one option more than kombu's
        *redis.Channel.from_transport_options,
        "idle_poll_max_seconds",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.recorded_by_pop: set[str] = set()
        self._no_ack_queues: set[str] = set()
        self._idle_wait = 0.0
        self._resume_at = 0.0
        super().__init__(*args, **kwargs)

    def basic_consume(self, queue: str, *args: Any, **kwargs: Any) -> Any:
        no_ack = kwargs.get("no_ack", args[0] if args else False)
        if no_ack:
            self._no_ack_queues.add(queue)
        else:
            self._no_ack_queues.discard(queue)
        return super().basic_consume(queue, *args, **kwargs)

    def _brpop_start(self, timeout: float | None = None) -> None:
        waiting = self._resume_at - time.monotonic()
        if waiting > 0:
            if self._event_loop() is not None:
                return  # the timer set when the queues were found empty wakes the loop
            time.sleep(waiting)  # a blocking consumer (drain_events) waits anyway
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        order = [(queue, pri) for pri in self.priority_steps for queue in queues]
        keys = [self._q_for_pri(queue, pri) for queue, pri in order]
        record = ["0" if queue in self._no_ack_queues else "1" for queue, _ in order]
        prefix = self.global_keyprefix
        unacked, index = prefix + self.unacked_key, prefix + self.unacked_index_key
        self._in_poll = self.client.connection
        self._brpop_sent_at = time.monotonic()  # type: ignore[assignment]  # kombu: None
        self.client.connection.send_command(
            "EVAL",
            POP_AND_RECORD,
            len(keys) + 2,
            unacked,
            index,
            *(prefix + key for key in keys),
            repr(time.time()),
            *record,
        )

    def _brpop_read(self, **options: Any) -> bool:
        try:
            try:
                reply = self.client.parse_response(self.client.connection, "EVAL", **options)
            except self.connection_errors:
                self.client.connection.disconnect()  # the next round reconnects
                raise
            if not reply:
                self._wait_before_next_look()
                raise redis.Empty()
            key, item, recorded = reply
            self._idle_wait = 0.0
            queue = self._queue_of(bytes_to_str(key)[len(self.global_keyprefix) :])
            self._queue_cycle.rotate(queue)
            message = loads(bytes_to_str(item))
            if recorded:
                self.recorded_by_pop.add(message["properties"]["delivery_tag"])
            self.connection._deliver(message, queue)
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]  # as kombu does
            self._flush_brpop_reauth()

    def _queue_of(self, key: str) -> str:
        return key.rsplit(self.sep, 1)[0]

    def _wait_before_next_look(self) -> None:
        cap = max(FIRST_IDLE_WAIT_SECONDS, float(self.idle_poll_max_seconds))
        self._idle_wait = min(cap, max(FIRST_IDLE_WAIT_SECONDS, self._idle_wait * 2))
        self._resume_at = time.monotonic() + self._idle_wait
        loop = self._event_loop()
        if loop is not None:
            loop.call_later(self._idle_wait, _nothing)

    def _event_loop(self) -> Any:
        return getattr(self.connection, "event_loop", None)


class Transport(redis.Transport):
    Channel = Channel

    event_loop: Any = None

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        self.event_loop = loop
        super().register_with_event_loop(connection, loop)


def _nothing() -> None:
    """A timer's callback: firing it is what wakes the event loop to look again."""


def install() -> None:
    """Serve ``redis://`` and ``rediss://`` broker URLs with this transport in this process
    (every app, producer and consumer of it; ``sentinel://`` keeps kombu's own).

    Through kombu's alias table rather than ``broker_transport``, so the URLs stay as they are
    in the worker's banner, Flower and the logs."""
    for scheme in ("redis", "rediss"):
        kombu_transport.TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
        kombu_transport._transport_cache.pop(scheme, None)
