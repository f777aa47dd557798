"""Values chosen when the project was baked (rendered once by cookiecutter).

Each value is decoded from JSON (Jinja's tojson escapes every quote), so any text a PM typed
(quotes, newlines, emoji, code) stays data.
"""

import json

PROJECT_NAME: str = json.loads(r'''{{ cookiecutter.project_name | tojson }}''')
PROJECT_SLUG: str = json.loads(r'''{{ cookiecutter.project | tojson }}''')
MODULE_NAME: str = json.loads(r'''{{ cookiecutter.module_name | tojson }}''')
TEAM: str = json.loads(r'''{{ cookiecutter.team | tojson }}''')
CURRENCY: str = json.loads(r'''{{ cookiecutter.currency | tojson }}''')
WEEK_STARTS_ON: str = json.loads(r'''{{ cookiecutter.week_starts_on | tojson }}''')
DATA_BACKEND: str = json.loads(r'''{{ cookiecutter.data_backend | tojson }}''')
