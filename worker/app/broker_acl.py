"""Redis ACL rules for the broker's users: the single source the docs and compose quote.

In ``trusted`` mode the broker's own authentication is the boundary (README, "Security model"):
whoever may publish to our queues may submit work. So the workers get one user, and each
service that only submits work gets a *producer* user that can publish Celery messages to
named queues and nothing else: no consuming (BRPOP, LRANGE, RPOP…), no other keys, no
admin commands (FLUSHALL, CONFIG, KEYS…).

What kombu's Redis transport does for ``send_task`` (read from kombu/transport/redis.py and
seen with MONITOR): ``HELLO``/``PING`` on connect (``SELECT`` for a database other than 0);
declaring the queue runs ``LLEN`` on each priority sub-queue (``agents``, ``agents\\x06\\x163``…)
in a ``MULTI``/``EXEC`` and ``SADD`` on ``_kombu.binding.<queue>`` and
``_kombu.binding_permanent.<queue>``; publishing is an ``LPUSH`` onto the queue (or a priority
sub-queue); with ``task_send_sent_event`` (our app's setting) a ``PUBLISH`` on
``/<db>.celeryev/task.sent`` follows.
"""

from __future__ import annotations

from collections.abc import Iterable

#: kombu's separator between a queue's name and its priority (``agents\x06\x163``).
PRIORITY_SEPARATOR = "\x06\x16"

#: The queues a producer may submit to by default (DESIGN: agent runs and workflow starts).
PRODUCER_QUEUES: tuple[str, ...] = ("agents", "workflows")

#: Everything ``send_task`` needs; notably absent: BRPOP, RPOP, LRANGE, GET, DEL, KEYS, EVAL.
PRODUCER_COMMANDS: tuple[str, ...] = (
    "hello",
    "ping",
    "select",
    "multi",
    "exec",
    "llen",
    "lpush",
    "sadd",
    "publish",
)

#: The workers, beat and Flower: every key and channel, no administration (FLUSHALL, CONFIG,
#: KEYS, DEBUG, MONITOR, SHUTDOWN, CLIENT KILL, ACL SETUSER… are in @admin or @dangerous).
WORKER_RULES: tuple[str, ...] = ("~*", "&*", "+@all", "-@admin", "-@dangerous")


#: RabbitMQ ``set_permissions`` regexes (configure, write, read) on a tenant's vhost. A producer
#: may only publish to the ``agents`` and ``workflows`` exchanges: not declare anything, not
#: read any queue, not use the default exchange (``amq.default`` reaches every queue).
RABBITMQ_PRODUCER_PERMISSIONS: tuple[str, str, str] = ("^$", "^(agents|workflows)$", "^$")
#: The workers declare, publish to and consume from everything in their vhost.
RABBITMQ_WORKER_PERMISSIONS: tuple[str, str, str] = (".*", ".*", ".*")


def producer_rules(queues: Iterable[str] = PRODUCER_QUEUES) -> tuple[str, ...]:
    """ACL rules (no ``on``, no password) for a user that may only publish to ``queues``."""
    names = tuple(queues)
    if not names:
        raise ValueError("a producer needs at least one queue to publish to")
    keys: list[str] = []
    for queue in names:
        if any(char in queue for char in "*?[]\\ "):
            raise ValueError(f"queue name {queue!r} must not contain glob characters or spaces")
        keys += [
            f"~{queue}",
            f"~{queue}{PRIORITY_SEPARATOR}*",
            f"~_kombu.binding.{queue}",
            f"~_kombu.binding_permanent.{queue}",
        ]
    return (
        "resetkeys",
        "resetchannels",
        "-@all",
        *(f"+{command}" for command in PRODUCER_COMMANDS),
        *keys,
        "&/*.celeryev/task.sent",
    )


def acl_setuser_command(user: str, password: str, rules: Iterable[str]) -> str:
    """A ready-to-paste ``redis-cli`` line: ``ACL SETUSER user on >password rules…``.

    Rules holding kombu's priority separator are double-quoted with ``\\x06\\x16`` escapes,
    which redis-cli (and a redis.conf ``user`` line) turns back into the raw bytes.
    """
    words = [user, "on", f">{password}", *rules]
    return "ACL SETUSER " + " ".join(_quote(word) for word in words)


def _quote(word: str) -> str:
    if all(char.isprintable() and char not in ' "\\' for char in word):
        return word
    escaped = "".join(
        f"\\x{ord(char):02x}"
        if not char.isprintable()
        else ("\\" + char if char in '"\\' else char)
        for char in word
    )
    return f'"{escaped}"'


def _escape(char: str) -> str:
    if not char.isprintable():
        return f"\\x{ord(char):02x}"
    return "\\" + char if char in '"\\' else char
