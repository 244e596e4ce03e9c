"""The project's warnings: one module, so a user filters them by meaning.

A model fit that does not fully succeed is kept, flagged, never hidden. Two kinds, as
``arch`` (K. Sheppard) names them in ``arch.utility.exceptions``:

* :class:`ConvergenceWarning` — an optimiser stopped without meeting its convergence test
  (iteration cap, line-search failure, EM not converged). The estimates are the best point
  reached, usable but not certified to be the maximum-likelihood estimate.
* :class:`DataScaleWarning` — the data's scale defeats the model: ``arch``'s own warning
  (a series far from the magnitude its optimiser is tuned for), or a series whose
  resolution is coarse against its moves (mostly zero returns: stale or tick-quantised
  prices). Riskstream's GARCH estimators rescale internally, so magnitude alone is fine.

Each fitted estimator appends the message to its ``warnings_`` list as well as emitting the
warning, so the message travels with the model into the scenario set and the risk snapshot's
lineage (``ScenarioSet.model_warnings``, ``RiskSnapshot.model_warnings``). Third-party
warnings of the same meaning (``arch``, ``statsmodels``, ``scikit-learn`` each have a
``ConvergenceWarning``) are caught by :func:`third_party_warnings` and re-raised as ours;
every other warning passes through unchanged. Nothing is silenced.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class RiskstreamWarning(UserWarning):
    """Base class of every warning Riskstream raises on purpose."""


class ConvergenceWarning(RiskstreamWarning):
    """An estimator's optimiser did not converge; the fit is kept and flagged."""


class DataScaleWarning(RiskstreamWarning):
    """The data's scale or resolution defeats the model (see the module notes)."""


# third-party warning classes translated to ours, by class name (``core`` imports none of
# the model libraries): arch, statsmodels and scikit-learn all call theirs this
_TRANSLATED = {"ConvergenceWarning": ConvergenceWarning, "DataScaleWarning": DataScaleWarning}


def warn_model(log: list[str], category: type[RiskstreamWarning], message: str) -> None:
    """Record ``message`` in an estimator's ``warnings_`` list and emit it as ``category``.

    The recorded text is ``"<CategoryName>: <message>"`` (what the snapshot lineage shows).
    """
    log.append(f"{category.__name__}: {message}")
    warnings.warn(message, category, stacklevel=3)


@contextmanager
def third_party_warnings(log: list[str], source: str) -> Iterator[None]:
    """Run a third-party fit, re-raising its convergence and scale warnings as ours.

    Every warning raised inside the block is recorded (not ignored); on exit, a third-party
    ``ConvergenceWarning`` or ``DataScaleWarning`` is re-emitted as Riskstream's, prefixed
    by ``source`` and appended to ``log``; any other warning is re-emitted unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[tuple[str, str]] = set()
    for w in caught:
        name = w.category.__name__
        ours = _TRANSLATED.get(name)
        if ours is not None and not issubclass(w.category, RiskstreamWarning):
            key = (name, str(w.message))
            if key not in seen:
                seen.add(key)
                warn_model(log, ours, f"{source}: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
