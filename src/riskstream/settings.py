"""The application's settings: one table per package, composed here.

See :mod:`riskstream.core.config` for the file format and environment overrides. Each
package defines its own frozen config; this module is the one place that gathers them.
"""

from __future__ import annotations

from riskstream.backtest.config import BacktestConfig
from riskstream.bus.config import BusConfig
from riskstream.core.config import ConfigModel
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.fx.config import FxConfig
from riskstream.limits.config import LimitsConfig
from riskstream.md.config import MdConfig
from riskstream.models.config import ModelsConfig
from riskstream.portfolio.config import PortfolioConfig
from riskstream.pricing.config import PricingConfig
from riskstream.regime.config import RegimeConfig
from riskstream.risk.config import RiskConfig
from riskstream.runtime.config import RuntimeConfig
from riskstream.service.config import ServiceConfig
from riskstream.store.config import StoreConfig
from riskstream.surveillance.config import SurveillanceConfig


class Settings(ConfigModel):
    """Every setting of a Riskstream deployment, all defaulted (embedded backends)."""

    universe: UniverseConfig = UniverseConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    bus: BusConfig = BusConfig()
    store: StoreConfig = StoreConfig()
    md: MdConfig = MdConfig()
    models: ModelsConfig = ModelsConfig()
    risk: RiskConfig = RiskConfig()
    pricing: PricingConfig = PricingConfig()
    backtest: BacktestConfig = BacktestConfig()
    regime: RegimeConfig = RegimeConfig()
    limits: LimitsConfig = LimitsConfig()
    portfolio: PortfolioConfig = PortfolioConfig()
    service: ServiceConfig = ServiceConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    fx: FxConfig = FxConfig()
    surveillance: SurveillanceConfig = SurveillanceConfig()
