"""Background jobs of this app."""

from celery import shared_task

from .services import signing


@shared_task
def sign_certificate_request(request_id: int) -> str:
    """Sign an accepted CSR with the configured CA and send it (off the station's path when a worker runs it)."""
    return signing.certificate_request_sign_automatically(request_id=request_id).status
