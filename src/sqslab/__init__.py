"""sqslab: the lab bench of sqs-reliability-course.

Mocked SQS (moto) with fake credentials, a controllable clock, crash injection at named fault
points, a real SQLite effect store, one history of everything, and a checker that explains.

>>> from sqslab import open_lab
>>> lab = open_lab()
"""

from .check import Verdict, check
from .clock import Clock
from .effects import EffectDB, EffectFailed, EffectStore
from .exceptions import Crash, EnvironmentProblem, LabError, RunawayConsumer
from .explore import explore, fault_plans
from .faults import CRASH_POINTS, DEFAULT_POINTS, FAULT_POINTS, Fault, FaultPlan
from .history import Event, History
from .lab import Lab, Queue, crash_at, current_lab, open_lab
from .scenario import Outcome, Process, order_messages, run_scenario
from .selftest import canary

__all__ = [
    "CRASH_POINTS", "Clock", "Crash", "DEFAULT_POINTS", "EffectDB", "EffectFailed", "EffectStore",
    "EnvironmentProblem", "Event", "FAULT_POINTS", "Fault", "FaultPlan", "History", "Lab", "LabError",
    "Outcome", "Process", "Queue", "RunawayConsumer", "Verdict", "canary", "check", "crash_at", "current_lab", "explore",
    "fault_plans", "open_lab", "order_messages", "run_scenario",
]
__version__ = "0.1.0"
