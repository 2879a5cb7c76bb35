"""OCPP-J 1.6 CallError codes, spelled as they go on the wire (typos included)."""


class ErrorCode:
    NOT_IMPLEMENTED = "NotImplemented"  # 1.6: action not known at all
    NOT_SUPPORTED = "NotSupported"  # 1.6: action known but not taken here
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


class OCPPError(Exception):
    """A failure to process a Call, answered with a CallError carrying `code`."""

    def __init__(self, code: str, description: str = "", details: dict | None = None):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}
