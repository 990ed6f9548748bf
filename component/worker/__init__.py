"""Polling many trigger instances with many worker processes: a Celery app (:mod:`.app`), the table
of trigger instances it schedules from (:mod:`.instances`), the sinks events go to (:mod:`.sinks`)
and what each worker process runs its tasks on (:mod:`.engine`). See docs/scale-out.md.

Nothing here is imported by the rest of the component: it needs the ``scale`` extra (Celery,
redis-py, psycopg).
"""
