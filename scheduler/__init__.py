"""homevisit's planning core: domain, care programmes, travel, solver and evaluator.

It imports no web, map or database code. The entry points are :func:`build_problem` (a dataset
and a week to the visits due) and :func:`solve` (a checked plan).
"""

from scheduler.dataset import DatasetError, InputProblem, read_dataset
from scheduler.dataset.plan_files import read_plan, write_plan
from scheduler.evaluate import Evaluation, Reason, Violation, evaluate
from scheduler.model import Dataset, Plan, Problem, Route, Stop, Unscheduled, Visit
from scheduler.params import SolveParams
from scheduler.roads import OsrmTravel
from scheduler.solve import PlanningOptions, build_problem, solve
from scheduler.travel import GreatCircleTravel, TravelParams, TravelTimeProvider

__all__ = [
    "Dataset",
    "DatasetError",
    "Evaluation",
    "GreatCircleTravel",
    "InputProblem",
    "OsrmTravel",
    "Plan",
    "PlanningOptions",
    "Problem",
    "Reason",
    "Route",
    "SolveParams",
    "Stop",
    "TravelParams",
    "TravelTimeProvider",
    "Unscheduled",
    "Violation",
    "Visit",
    "build_problem",
    "evaluate",
    "read_dataset",
    "read_plan",
    "solve",
    "write_plan",
]
