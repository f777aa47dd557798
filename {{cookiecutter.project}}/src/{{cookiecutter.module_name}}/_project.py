"""Values chosen when the project was baked (rendered once by cookiecutter)."""

PROJECT_NAME = {{ cookiecutter.project_name | tojson }}
PROJECT_SLUG = {{ cookiecutter.project | tojson }}
MODULE_NAME = {{ cookiecutter.module_name | tojson }}
TEAM = {{ cookiecutter.team | tojson }}
CURRENCY = {{ cookiecutter.currency | tojson }}
WEEK_STARTS_ON = {{ cookiecutter.week_starts_on | tojson }}
DATA_BACKEND = {{ cookiecutter.data_backend | tojson }}
