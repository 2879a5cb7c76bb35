import os

from celery import Celery
from celery.signals import task_failure, task_success, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")

app = Celery("csms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# --- Metrics of a worker, on its own port (docs/adr/0140-operations.md) --------------------------------

_tasks = None


def _task_counter():
    global _tasks
    if _tasks is None:
        from prometheus_client import Counter

        _tasks = Counter("csms_celery_tasks", "Celery tasks run by this worker, by task and outcome.",
                         ["task", "outcome"])
    return _tasks


@task_success.connect
def _count_success(sender=None, **kwargs):
    _task_counter().labels(task=getattr(sender, "name", "?"), outcome="succeeded").inc()


@task_failure.connect
def _count_failure(sender=None, **kwargs):
    _task_counter().labels(task=getattr(sender, "name", "?"), outcome="failed").inc()


class QueueDepthCollector:
    """How many tasks wait in the broker's default queue (Redis), read when Prometheus scrapes."""

    def collect(self):
        from django.conf import settings
        from prometheus_client.core import GaugeMetricFamily

        if not settings.REDIS_URL:
            return
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            depth = client.llen(app.conf.task_default_queue or "celery")
        except redis.RedisError:
            return
        finally:
            client.close()
        yield GaugeMetricFamily("csms_celery_queue_depth", "Tasks waiting in the broker's default queue.", value=depth)


def _export(port: int) -> None:
    from prometheus_client import REGISTRY, start_http_server

    REGISTRY.register(QueueDepthCollector())
    start_http_server(port)


# The counts live in the process that runs the tasks: the worker runs with `--pool threads`
# (docker-compose), so that process is the one exporting them.
@worker_ready.connect
def _start_exporter(sender=None, **kwargs):
    from django.conf import settings

    if settings.CSMS_WORKER_METRICS_PORT:
        _export(settings.CSMS_WORKER_METRICS_PORT)

