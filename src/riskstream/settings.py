"""The application's settings: one table per package, composed here.

See :mod:`riskstream.core.config` for the file format and environment overrides. Each
package defines its own frozen config; this module is the one place that gathers them.
"""

from __future__ import annotations

from riskstream.bus.config import BusConfig
from riskstream.core.config import ConfigModel
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.md.config import MdConfig
from riskstream.models.config import ModelsConfig
from riskstream.pricing.config import PricingConfig
from riskstream.service.config import ServiceConfig
from riskstream.store.config import StoreConfig


class Settings(ConfigModel):
    """Every setting of a Riskstream deployment, all defaulted (embedded backends)."""

    universe: UniverseConfig = UniverseConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    bus: BusConfig = BusConfig()
    store: StoreConfig = StoreConfig()
    md: MdConfig = MdConfig()
    models: ModelsConfig = ModelsConfig()
    pricing: PricingConfig = PricingConfig()
    service: ServiceConfig = ServiceConfig()
