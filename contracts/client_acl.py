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
    "auth", "hello", "ping",                                     # connect, health checks
    "lpush", "rpush", "rpop", "brpop", "llen",                   # the queues and pidbox/reply lists
    "sadd", "srem", "smembers", "exists",                        # exchange bindings
    "zadd", "zrem", "zrange", "zrangebyscore",                   # binding deadlines, unacked_index
    "hset", "hget", "hdel", "hlen",                              # the unacked hash
    "get", "set", "del", "pexpire", "pttl", "time",              # unacked_mutex (redis-py Lock), deadlines
    "multi", "exec", "discard", "watch", "unwatch",              # kombu's transactions and pipelines
    "evalsha", "script|load", "script|exists",                   # kombu's and redis-py's Lua scripts
    "publish", "psubscribe", "punsubscribe",                     # remote control (pidbox) and events
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
    "auth", "hello", "ping", "sentinel|masters", "sentinel|master", "sentinel|get-master-addr-by-name",
    "sentinel|slaves", "sentinel|replicas", "sentinel|sentinels", "subscribe", "unsubscribe",
)
SENTINEL_DISCOVERY_CHANNELS = ("+switch-master",)
# What redis_exporter sends to a Sentinel (recorded through Sentinel's ACL LOG with Debian's 1.45, starting from
# nothing): its INFO and the masters, replicas, Sentinels and quorum check behind the redis_sentinel_* metrics.
EXPORTER_SENTINEL_COMMANDS = ("auth", "hello", "ping", "client|setname", "info", "sentinel|masters",
                              "sentinel|slaves", "sentinel|sentinels", "sentinel|ckquorum")


# What redis_exporter sends (seen in Redis's ACL LOG with Debian's 1.45): INFO, PING, SELECT, TYPE and the
# length of each checked key, LATENCY LATEST, SLOWLOG LEN, CLIENT SETNAME. Not CONFIG GET: it would read
# requirepass and masterauth (the exporter logs the refusal once and exports everything but redis_config_*);
# not SLOWLOG GET: slow entries carry arguments, task payloads among them.
EXPORTER_COMMANDS = ("-@all +info +ping +select +type +llen +hlen +scard +zcard +strlen +latency|latest "
                     "+slowlog|len +client|setname")

# The documented commands of each client user, by the ACL file that defines it (contracts/paths.py). Airflow may
# also SELECT its own database (`select|<db>`), when that is not 0.
CLIENT_COMMANDS = {
    "airflow.acl": AIRFLOW_COMMANDS,
    "keda.acl": KEDA_COMMANDS,
    "exporter.acl": tuple(w.lstrip("+") for w in EXPORTER_COMMANDS.split() if w.startswith("+")),
    "airflow.sentinel-acl": SENTINEL_DISCOVERY_COMMANDS,
    "keda.sentinel-acl": SENTINEL_DISCOVERY_COMMANDS,
    "exporter.sentinel-acl": EXPORTER_SENTINEL_COMMANDS,
}
