"""OCPP 1.6's standard configuration keys (chapter 9, and the Security Whitepaper's chapter 7): their
type and whether a Central System may write them, so that a ChangeConfiguration is checked before it
is sent. Keys a vendor adds are the station's business: only their length is checked."""

from __future__ import annotations

from dataclasses import dataclass

from ocpp.v16.enums import Measurand

INT32_MAX = 2**31 - 1
# The schema's limits for ChangeConfiguration.req.
KEY_MAX_LENGTH = 50
VALUE_MAX_LENGTH = 500

MEASURANDS = frozenset(m.value for m in Measurand)
PHASES = frozenset({"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"})
FEATURE_PROFILES = frozenset({"Core", "FirmwareManagement", "LocalAuthListManagement", "Reservation",
                              "SmartCharging", "RemoteTrigger"})
PHASE_ROTATIONS = frozenset({"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"})


@dataclass(frozen=True)
class KeySpec:
    type: str  # "boolean", "integer", "CSL" or "string"
    writable: bool = True
    unit: str = ""
    # CSL: what one item may be ("measurand": a measurand, optionally ".phase"); its max length key.
    items: str = ""
    max_length_key: str = ""
    minimum: int = 0
    maximum: int = INT32_MAX


def _i(unit: str = "", writable: bool = True, minimum: int = 0, maximum: int = INT32_MAX) -> KeySpec:
    return KeySpec("integer", writable, unit, minimum=minimum, maximum=maximum)


BOOLEAN = KeySpec("boolean")
READ_ONLY_BOOLEAN = KeySpec("boolean", writable=False)

STANDARD_KEYS: dict[str, KeySpec] = {
    # Core profile
    "AllowOfflineTxForUnknownId": BOOLEAN,
    "AuthorizationCacheEnabled": BOOLEAN,
    # Read-only or writable at the station's choice: what it reported decides (readonly flag).
    "AuthorizeRemoteTxRequests": BOOLEAN,
    "BlinkRepeat": _i("times"),
    "ClockAlignedDataInterval": _i("seconds"),
    "ConnectionTimeOut": _i("seconds"),
    "ConnectorPhaseRotation": KeySpec("CSL", items="phase_rotation", max_length_key="ConnectorPhaseRotationMaxLength"),
    "ConnectorPhaseRotationMaxLength": _i(writable=False),
    "GetConfigurationMaxKeys": _i(writable=False),
    "HeartbeatInterval": _i("seconds"),
    "LightIntensity": _i("%", maximum=100),
    "LocalAuthorizeOffline": BOOLEAN,
    "LocalPreAuthorize": BOOLEAN,
    "MaxEnergyOnInvalidId": _i("Wh"),
    "MeterValuesAlignedData": KeySpec("CSL", items="measurand", max_length_key="MeterValuesAlignedDataMaxLength"),
    "MeterValuesAlignedDataMaxLength": _i(writable=False),
    "MeterValuesSampledData": KeySpec("CSL", items="measurand", max_length_key="MeterValuesSampledDataMaxLength"),
    "MeterValuesSampledDataMaxLength": _i(writable=False),
    "MeterValueSampleInterval": _i("seconds"),
    "MinimumStatusDuration": _i("seconds"),
    "NumberOfConnectors": _i(writable=False),
    "ResetRetries": _i("times"),
    "StopTransactionOnEVSideDisconnect": BOOLEAN,
    "StopTransactionOnInvalidId": BOOLEAN,
    "StopTxnAlignedData": KeySpec("CSL", items="measurand", max_length_key="StopTxnAlignedDataMaxLength"),
    "StopTxnAlignedDataMaxLength": _i(writable=False),
    "StopTxnSampledData": KeySpec("CSL", items="measurand", max_length_key="StopTxnSampledDataMaxLength"),
    "StopTxnSampledDataMaxLength": _i(writable=False),
    "SupportedFeatureProfiles": KeySpec("CSL", writable=False, items="feature_profile"),
    "SupportedFeatureProfilesMaxLength": _i(writable=False),
    "TransactionMessageAttempts": _i("times"),
    "TransactionMessageRetryInterval": _i("seconds"),
    "UnlockConnectorOnEVSideDisconnect": BOOLEAN,
    "WebSocketPingInterval": _i("seconds"),
    # Local auth list management
    "LocalAuthListEnabled": BOOLEAN,
    "LocalAuthListMaxLength": _i(writable=False),
    "SendLocalListMaxLength": _i(writable=False),
    # Reservation
    "ReserveConnectorZeroSupported": READ_ONLY_BOOLEAN,
    # Smart charging
    "ChargeProfileMaxStackLevel": _i(writable=False),
    "ChargingScheduleAllowedChargingRateUnit": KeySpec("CSL", writable=False, items="rate_unit"),
    "ChargingScheduleMaxPeriods": _i(writable=False),
    "ConnectorSwitch3to1PhaseSupported": READ_ONLY_BOOLEAN,
    "MaxChargingProfilesInstalled": _i(writable=False),
    # Security Whitepaper
    "AdditionalRootCertificateCheck": READ_ONLY_BOOLEAN,
    "CertificateSignedMaxChainSize": _i(writable=False, maximum=10000),
    "CertificateStoreMaxLength": _i(writable=False),
    "CpoName": KeySpec("string"),
    "SecurityProfile": _i(maximum=3),
}
# OCPP key names are case-sensitive on the wire, but the spec itself writes some in two spellings
# (authorizeRemoteTxRequests, LocalauthorizeOffline): look them up without case.
_BY_LOWER = {name.lower(): (name, spec) for name, spec in STANDARD_KEYS.items()}


def standard_key(key: str) -> tuple[str, KeySpec] | None:
    return _BY_LOWER.get(key.lower())


def _item_valid(kind: str, item: str) -> bool:
    if kind == "measurand":  # a measurand (with dots of its own), optionally ".phase": "Voltage.L1"
        measurand, _, phase = item.rpartition(".")
        return item in MEASURANDS or (measurand in MEASURANDS and phase in PHASES)
    if kind == "phase_rotation":
        connector, _, rotation = item.partition(".")  # "0.RST", "1.NotApplicable"
        return connector.isdigit() and rotation in PHASE_ROTATIONS
    if kind == "feature_profile":
        return item in FEATURE_PROFILES
    if kind == "rate_unit":
        return item in ("Current", "Power")
    return True


def value_problem(spec: KeySpec, value: str, max_items: int | None = None) -> str | None:
    """Why `value` cannot be written to a key of this type (None: it can)."""
    if spec.type == "boolean":
        return None if value.strip().lower() in ("true", "false") else "must be true or false"
    if spec.type == "integer":
        text = value.strip()
        if not text.lstrip("-").isdigit():
            return "must be a whole number"
        number = int(text)
        if number < spec.minimum or number > spec.maximum:
            return f"must be between {spec.minimum} and {spec.maximum}"
        return None
    if spec.type == "CSL":
        items = [item.strip() for item in value.split(",")] if value.strip() else []
        wrong = [item for item in items if not _item_valid(spec.items, item)]
        if wrong:
            return f"holds values OCPP does not define: {', '.join(wrong)}"
        if max_items is not None and len(items) > max_items:
            return f"holds {len(items)} items; the station takes at most {max_items} ({spec.max_length_key})"
    return None
