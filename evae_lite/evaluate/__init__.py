"""The measurements: unit activity and per-unit KL, the Parzen estimator, L_k (Burda et al.)."""

from .activity import THRESHOLD_BURDA_CODE, THRESHOLD_PAPER, UnitReport, unit_report
from .iwae import log_likelihood
from .parzen import DEFAULT_SIGMAS, ParzenResult, parzen_score

__all__ = [
    "THRESHOLD_PAPER",
    "THRESHOLD_BURDA_CODE",
    "UnitReport",
    "unit_report",
    "DEFAULT_SIGMAS",
    "ParzenResult",
    "parzen_score",
    "log_likelihood",
]
