"""Background jobs of this app."""

from celery import shared_task

from .services import expiry, signing


@shared_task
def sign_certificate_request(request_id: int) -> str:
    """Sign an accepted CSR with the configured CA and send it (off the station's path when a worker runs it)."""
    return signing.certificate_request_sign_automatically(request_id=request_id).status


@shared_task
def watch_certificate_expiry() -> dict:
    """Ask stations whose certificate expires soon to renew it; alert on failed renewals and on the
    CSMS's own certificates expiring."""
    report = expiry.certificates_expiry_watch()
    return {"asked": len(report.renewals_asked), "failed": len(report.renewals_failed),
            "csms_expiring": len(report.csms_expiring)}
