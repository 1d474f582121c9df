import signal

import pytest


@pytest.fixture
def keep_signal_handlers():
    """Put SIGTERM's and SIGINT's handlers back after a test that runs a loop's own."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
