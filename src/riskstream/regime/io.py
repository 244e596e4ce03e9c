"""The regime model file: a zip archive with a versioned JSON header and the fitted model.

``header.json`` names the format and its version, the number of regimes and the asset
columns; ``model.pkl`` is the pickled :class:`~riskstream.regime.ensemble.RegimeEnsemble`.
The header is read and checked *before* anything is unpickled, so a file of another version
(or not a regime model at all) is refused with a clear error. Pickles execute code when
loaded: load model files only from sources you trust, as with any pickle.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

from riskstream.core.errors import InputError, ModelError

FORMAT = "riskstream-regime-model"
VERSION = 3
"""2: the detectors and the ensemble are scikit-learn estimators (parameters in
``__init__``, ``names_``, ``warnings_``). 3: the ensemble's smoother reads its fitted
``smoothing_ratio_`` (maximum likelihood unless fixed) and may hold a Student-t HMM. A file
of an earlier version is refused with a request to refit (``riskstream regime fit`` /
``fit-sim``) rather than unpickled into the new classes."""


def save_model(path: str | Path, model: Any, assets: list[str]) -> Path:
    """Write ``model`` (fitted) with its header to ``path``; returns the path."""
    path = Path(path)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "n_regimes": int(model.n_regimes),
        "assets": list(assets),
        "detectors": list(getattr(model, "names_", [])),
        "warnings": list(getattr(model, "warnings_", [])),
        "labels_source": getattr(model, "labels_source_", None),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("header.json", json.dumps(header, indent=2))
        zf.writestr("model.pkl", pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def read_header(path: str | Path) -> dict[str, Any]:
    """The header of a model file, checked for format and version.

    Raises
    ------
    InputError
        Not a regime model file, or of another version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("model", str(path), "an existing regime model file")
    try:
        with zipfile.ZipFile(path) as zf:
            header = json.loads(zf.read("header.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise InputError("model", str(path), f"a {FORMAT} file ({exc})") from None
    if header.get("format") != FORMAT:
        raise InputError("model format", header.get("format"), FORMAT, str(path))
    if header.get("version") != VERSION:
        raise InputError(
            "model version",
            header.get("version"),
            f"version {VERSION} (refit the model with this release of riskstream)",
            str(path),
        )
    return header


def load_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Load a model file: (model, header). Checks the header first (see :func:`read_header`)."""
    header = read_header(path)
    with zipfile.ZipFile(path) as zf:
        try:
            model = pickle.loads(zf.read("model.pkl"))
        except Exception as exc:  # a corrupt payload under a valid header
            raise ModelError(f"{path}: the model payload cannot be read ({exc})") from None
    return model, header
