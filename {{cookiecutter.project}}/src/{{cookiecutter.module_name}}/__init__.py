"""The package behind the report notebooks (project values are in ``_project``).

One module per capability: ``config`` (paths and parameters), ``data`` (the data contract,
loading and validation), ``sample`` (a synthetic shop with planted truths), the analyses
(``market``, ``segmentation``, ``churn``, ``experiments``), ``plots`` (house style),
``report`` (recording headline values), ``runner`` (papermill + HTML), ``cli``.
"""

__version__ = "0.1.0"
