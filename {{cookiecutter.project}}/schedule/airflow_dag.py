"""Airflow DAG: run the report notebooks every Monday, the same way `make reports` does.

Copy this file into Airflow's dags/ folder. On the worker, the project folder must exist (a git
checkout) and the environment must hold SHOP_PROJECT_ROOT (that folder) and, for a warehouse,
SHOP_DATA_URL (from a connection or secrets backend): credentials are never parameters.

The runner's exit codes decide the task state: 0 success; 1 (a report failed or timed out) and
3 (a headline value broke its bounds in params/alerts.yaml) fail the task, so someone is told;
4 (another run holds the lock) skips it. The runner already runs each notebook in its own process
with time limits, writes the HTML and the index pages and switches reports/latest, which
Airflow's PapermillOperator would not.

Dagster or Prefect: run the same command from an op or a task (dagstermill is still beta).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

PROJECT_NAME = {{ cookiecutter.project_name | tojson }}
MODULE = {{ cookiecutter.module_name | tojson }}
PROJECT_DIR = os.environ.get("SHOP_PROJECT_ROOT", {{ ("/opt/" ~ cookiecutter.project) | tojson }})

with DAG(
    dag_id=f"{MODULE}_reports",
    description=f"{PROJECT_NAME}: weekly report run",
    schedule="15 6 * * 1",  # Mondays 06:15 UTC
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0, "execution_timeout": timedelta(hours=3)},
    tags=["reports"],
) as dag:
    BashOperator(
        task_id="run_reports",
        # `make setup` installs on the first run and is a no-op afterwards; the module is called
        # directly (not `make reports`) because make turns every failure into exit code 2.
        bash_command=f'cd "{PROJECT_DIR}" && make setup && .venv/bin/python -m {MODULE} run',
        skip_on_exit_code=4,
    )
