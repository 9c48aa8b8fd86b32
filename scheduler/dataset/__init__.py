"""The dataset format (``shared/FORMAT.md``, ``docs/dataset-format.md``) <-> the domain objects.

One module a job, each the only place that does it:

- :mod:`~scheduler.dataset.schema`: the files, their columns, and the Chinese names of files,
  columns and values (where a header is mapped to its English column);
- :mod:`~scheduler.dataset.values`: a cell's text <-> its value (where a weekday, a time, a date,
  a yes/no or an availability is parsed, and written back);
- :mod:`~scheduler.dataset.problems`: what is wrong, located by file, row, column and value;
- :mod:`~scheduler.dataset.limits`: how much a dataset may hold, refused before it is parsed;
- :mod:`~scheduler.dataset.sources`: CSV files and ``.xlsx`` workbooks decoded into tables of text;
- :mod:`~scheduler.dataset.read`: the registers read and checked row by row (:func:`read_dataset`);
- :mod:`~scheduler.dataset.write`: the registers written (:func:`write_dataset`);
- :mod:`~scheduler.dataset.plan_files`: a plan's files written and read back (``plan.csv`` ...).

This package is the only part of the core that uses pandas (for CSV reading and writing).
"""

from scheduler.dataset.limits import ReadLimits, check_dataset_limits
from scheduler.dataset.problems import DatasetError, InputProblem
from scheduler.dataset.read import read_dataset, read_requests
from scheduler.dataset.schema import (
    COLUMN_ALIASES_ZH,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    TABLE_ALIASES_ZH,
    VALUE_ALIASES_ZH,
    canonical_column,
    canonical_table,
)
from scheduler.dataset.write import WriteSummary, write_dataset

__all__ = [
    "COLUMN_ALIASES_ZH",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "TABLE_ALIASES_ZH",
    "VALUE_ALIASES_ZH",
    "DatasetError",
    "InputProblem",
    "ReadLimits",
    "WriteSummary",
    "canonical_column",
    "canonical_table",
    "check_dataset_limits",
    "read_dataset",
    "read_requests",
    "write_dataset",
]
