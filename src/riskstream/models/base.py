"""The one estimator interface of the models and regime packages: scikit-learn's.

Every model (GARCH, EWMA, DCC, copulas, scenario generators, regime detectors) derives from
:class:`Estimator`, which is :class:`sklearn.base.BaseEstimator` plus a warnings log, and
follows its contract (as ``skfolio`` does):

* ``__init__`` only stores its parameters, under their own names — no validation, no
  derived state — so ``get_params`` / ``set_params`` / :func:`sklearn.base.clone` work, and
  ``clone(est)`` is an unfitted estimator with equal parameters;
* ``fit(X, ...)`` validates the parameters, learns, and returns ``self``;
* everything learnt ends in ``_`` (``params_``, ``covariance_``, ``warnings_``);
* parts are composed by passing estimator *instances* as parameters
  (``MonteCarloSimulation(copula=StudentTCopula(), volatility=GarchPanel(o=1))``); a
  composite clones its parts before fitting them, so the instances passed in stay unfitted
  and nested parameters are reachable by name (``volatility__o``). String factories
  (:func:`~riskstream.models.scenarios.scenario_generator`,
  :func:`~riskstream.models.copulas.make_copula`) exist only for the CLI and settings.

``warnings_`` lists the fit's :class:`~riskstream.core.warnings.ConvergenceWarning` and
:class:`~riskstream.core.warnings.DataScaleWarning` messages (empty when the fit is clean);
a composite's list includes its parts'.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, clone

from riskstream.core.warnings import RiskstreamWarning, warn_model

__all__ = ["Estimator", "clone"]


class Estimator(BaseEstimator):
    """Base of every Riskstream model: scikit-learn's estimator contract plus ``warnings_``."""

    def _start_warnings(self) -> list[str]:
        """Empty the warnings log at the start of a fit; returns it."""
        self.warnings_: list[str] = []
        return self.warnings_

    def _warn(self, category: type[RiskstreamWarning], message: str) -> None:
        """Emit a warning and record it in ``warnings_``."""
        if not hasattr(self, "warnings_"):
            self.warnings_ = []
        warn_model(self.warnings_, category, f"{type(self).__name__}: {message}")
