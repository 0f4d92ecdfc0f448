"""What each client's ACL user may run: the documented lists the generator grants and the gate holds every rendered
client user to (`auth-acl-client-scope`). docs/security.md explains each entry; the live tests compare them with
the servers' own command tables."""

# What Celery and kombu send as Airflow's user, recorded with MONITOR on every node while a real worker and
# producer ran through a hand-over and a master crash, plus the paths that rarely run, read in kombu 5.7's
# transport (`PrefixedStrictRedis.PREFIXED_*_COMMANDS`, the REFRESH_BINDING/SWEEP_BINDINGS scripts) and redis-py's
# Lock scripts (kombu's unacked_mutex). Scripts run with this user's ACL, so their calls are here too (TIME,
# EXISTS, PTTL, ZRANGEBYSCORE). Nothing else: no INFO, CONFIG, SCAN, SELECT of another database, SCRIPT FLUSH,
# FUNCTION, OBJECT or KEYS (docs/security.md lists them with what each is for).
AIRFLOW_COMMANDS = (
    "auth",
    "hello",
    "ping",  # connect, health checks
    "lpush",
    "rpush",
    "rpop",
    "brpop",
    "llen",  # the queues and pidbox/reply lists
    "sadd",
    "srem",
    "smembers",
    "exists",  # exchange bindings
    "zadd",
    "zrem",
    "zrange",
    "zrangebyscore",  # binding deadlines, unacked_index
    "hset",
    "hget",
    "hdel",
    "hlen",  # the unacked hash
    "get",
    "set",
    "del",
    "pexpire",
    "pttl",
    "time",  # unacked_mutex (redis-py Lock), deadlines
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",  # kombu's transactions and pipelines
    "evalsha",
    "script|load",
    "script|exists",  # kombu's and redis-py's Lua scripts
    "publish",
    "psubscribe",
    "punsubscribe",  # remote control (pidbox) and events
)
# kombu's own keys: bindings and their deadlines (kombu 5.7), the unacked hash/index/mutex, and the remote-control
# (pidbox: `<worker>.celery.pidbox`, replies `<uuid>.reply.celery.pidbox`) and event queues.
KOMBU_KEYS = ("_kombu.binding*", "unacked", "unacked_index", "unacked_mutex", "*.celery.pidbox*", "celeryev.*")
# What KEDA's redis-sentinel scaler sends to Redis: the length of each queue.
KEDA_COMMANDS = ("auth", "hello", "ping", "llen")
# What a client may ask a Sentinel: where the master, the replicas and the other Sentinels are (redis-py's and
# kombu's Sentinel client: SENTINEL MASTERS/SLAVES; go-redis in KEDA: GET-MASTER-ADDR-BY-NAME, SENTINELS and the
# +switch-master event), never SET, REMOVE, RESET, FAILOVER, CONFIG, ACL, DEBUG, SHUTDOWN or PUBLISH (a forged
# hello).
SENTINEL_DISCOVERY_COMMANDS = (
    "auth",
    "hello",
    "ping",
    "sentinel|masters",
    "sentinel|master",
    "sentinel|get-master-addr-by-name",
    "sentinel|slaves",
    "sentinel|replicas",
    "sentinel|sentinels",
    "subscribe",
    "unsubscribe",
)
SENTINEL_DISCOVERY_CHANNELS = ("+switch-master",)
# What redis_exporter sends to a Sentinel (recorded through Sentinel's ACL LOG with Debian's 1.45, starting from
# nothing): its INFO and the masters, replicas, Sentinels and quorum check behind the redis_sentinel_* metrics.
EXPORTER_SENTINEL_COMMANDS = (
    "auth",
    "hello",
    "ping",
    "client|setname",
    "info",
    "sentinel|masters",
    "sentinel|slaves",
    "sentinel|sentinels",
    "sentinel|ckquorum",
)


# What redis_exporter sends (seen in Redis's ACL LOG with Debian's 1.45): INFO, PING, SELECT, TYPE and the
# length of each checked key, LATENCY LATEST, SLOWLOG LEN, CLIENT SETNAME. Not CONFIG GET: it would read
# requirepass and masterauth (the exporter logs the refusal once and exports everything but redis_config_*);
# not SLOWLOG GET: slow entries carry arguments, task payloads among them.
EXPORTER_COMMANDS = (
    "-@all +info +ping +select +type +llen +hlen +scard +zcard +strlen +latency|latest +slowlog|len +client|setname"
)

# What a Sentinel sends, as its own user (`sentinel auth-user`), to the Redis servers it monitors: Redis's
# documented list for a Sentinel user less ROLE, checked with MONITOR on every node through hand-overs, a crash and
# restarts (Redis 7.0.15): connect and name its two links, INFO and PING every period, the hello on its own channel,
# and a failover's MULTI/SLAVEOF/CONFIG REWRITE/CLIENT KILL/EXEC; SCRIPT KILL when a master is BUSY. No key.
SENTINEL_MONITOR_USER = "sentinel"
SENTINEL_HELLO_CHANNEL = "__sentinel__:hello"
SENTINEL_MONITOR_COMMANDS = (
    "auth",
    "ping",
    "info",
    "client|setname",
    "subscribe",
    "publish",
    "multi",
    "slaveof",
    "config|rewrite",
    "client|kill",
    "exec",
    "script|kill",
)

# What the smoke Job sends as its own user, recorded with MONITOR on every node while `smoke --celery` ran (redis-py
# 8 speaks RESP3: HELLO carries the credentials): PING, INFO (replication, persistence, memory: maxmemory_policy
# without CONFIG GET), a health key written and read back through Sentinel, and with `smoke.celeryRoundTrip` kombu's
# publish, consume and ack on a probe queue. Without `smoke.failover` only: the failover check runs the pods'
# hand-over, which needs the admin passwords.
SMOKE_HEALTH_KEY_PREFIX = "redis-gitops:health:"
SMOKE_PROBE_QUEUE = "redis-gitops-probe"
SMOKE_COMMANDS = ("auth", "hello", "ping", "info", "set", "get", "del")
SMOKE_CELERY_COMMANDS = ("lpush", "brpop", "llen", "sadd", "smembers", "hset", "hdel", "zadd", "zrem", "multi", "exec")
SMOKE_KEYS = (f"{SMOKE_HEALTH_KEY_PREFIX}*",)
SMOKE_CELERY_KEYS = (f"{SMOKE_PROBE_QUEUE}*", f"_kombu.binding*.{SMOKE_PROBE_QUEUE}", "unacked", "unacked_index")
# On the Sentinels: redis-py's discovery (MASTERS, SLAVES), the names each Sentinel gives, what it sees, its quorum.
SMOKE_SENTINEL_COMMANDS = (
    "auth",
    "hello",
    "ping",
    "sentinel|masters",
    "sentinel|master",
    "sentinel|get-master-addr-by-name",
    "sentinel|slaves",
    "sentinel|ckquorum",
)

# redis-py (5+) and go-redis (9) name their library on every new connection with CLIENT SETINFO, which Redis 7.2+
# and Valkey know and Redis 7.0 does not (there the client ignores the unknown command, and an ACL rule naming it
# is refused at start): granted to those clients where the engine knows it (contracts/engines.knows_client_setinfo).
LIBRARY_NAME_COMMAND = "client|setinfo"
NAMES_ITS_LIBRARY = ("airflow", "keda", "smoke")
# redis_gitops_airflow's transport confirms each publish and each delivered task's record with WAIT (the spec's
# `airflow.confirmPublishes`): granted to Airflow's user when the rendered transport options ask for it.
CONFIRM_COMMAND = "wait"

# The documented commands of each client user, by the ACL file that defines it (contracts/paths.py). Airflow may
# also SELECT its own database (`select|<db>`), when that is not 0.
CLIENT_COMMANDS = {
    "airflow.acl": AIRFLOW_COMMANDS + (LIBRARY_NAME_COMMAND, CONFIRM_COMMAND),
    "keda.acl": KEDA_COMMANDS + (LIBRARY_NAME_COMMAND,),
    "exporter.acl": tuple(w.lstrip("+") for w in EXPORTER_COMMANDS.split() if w.startswith("+")),
    "airflow.sentinel-acl": SENTINEL_DISCOVERY_COMMANDS + (LIBRARY_NAME_COMMAND,),
    "keda.sentinel-acl": SENTINEL_DISCOVERY_COMMANDS + (LIBRARY_NAME_COMMAND,),
    "exporter.sentinel-acl": EXPORTER_SENTINEL_COMMANDS,
    "sentinel.acl": SENTINEL_MONITOR_COMMANDS,
    "smoke.acl": SMOKE_COMMANDS + SMOKE_CELERY_COMMANDS + (LIBRARY_NAME_COMMAND,),
    "smoke.sentinel-acl": SMOKE_SENTINEL_COMMANDS + (LIBRARY_NAME_COMMAND,),
}
# The only user whose channel reaches the hello channel: the Sentinels' own, which must publish there.
HELLO_CHANNEL_USERS = {"sentinel.acl": SENTINEL_HELLO_CHANNEL}
