"""Typed configuration: models of `config/system.json` and `config/risk_limits.toml`,
environment overrides (`PYRT_<SECTION>__<FIELD>`), venue resolution and secrets (only from
the environment or `.env`). `load_config(config_dir)` returns an AppConfig or raises one
ConfigError listing every problem as `<file>: <dotted.field>: <reason>`."""

from pyrt.config.errors import ConfigError
from pyrt.config.loader import (
    ENV_ROOT,
    RISK_FILE,
    SYSTEM_FILE,
    AppConfig,
    load_config,
    load_risk_limits,
    load_system,
    resolve_root,
    validate_files,
)
from pyrt.config.risk import BreakerModes, CircuitBreakerLimits, RiskLimits
from pyrt.config.secrets import DEFAULT_SIM_KEY_ID, DEFAULT_SIM_SECRET, Secrets
from pyrt.config.system import (
    SERVICE_NAMES,
    ExecutionConfig,
    MarketDataConfig,
    MetricsConfig,
    SignalsConfig,
    SimBrokerConfig,
    StrategyConfig,
    SystemConfig,
    VenueConfig,
)
from pyrt.config.venue import ResolvedVenue, resolve_venue

__all__ = [
    "DEFAULT_SIM_KEY_ID",
    "DEFAULT_SIM_SECRET",
    "ENV_ROOT",
    "RISK_FILE",
    "SERVICE_NAMES",
    "SYSTEM_FILE",
    "AppConfig",
    "BreakerModes",
    "CircuitBreakerLimits",
    "ConfigError",
    "ExecutionConfig",
    "MarketDataConfig",
    "MetricsConfig",
    "ResolvedVenue",
    "RiskLimits",
    "Secrets",
    "SignalsConfig",
    "SimBrokerConfig",
    "StrategyConfig",
    "SystemConfig",
    "VenueConfig",
    "load_config",
    "load_risk_limits",
    "load_system",
    "resolve_root",
    "resolve_venue",
    "validate_files",
]
