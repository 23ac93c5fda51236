"""The parts of `manage.py load_test`: the served processes, the HTTP clients, the report.

`services` runs gunicorn and a django-q2 worker as subprocesses and stops them in every case;
`clients` are the asyncio HTTP clients and what each request got back; `report` holds the figures
and the checks; `run` is the whole run, from the fresh tenant to the checked report.
"""
