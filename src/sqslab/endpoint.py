"""Which SQS the lab talks to: one setting, ``SQSLAB_ENDPOINT``, read when a lab starts.

=========================  ==================================================================
``SQSLAB_ENDPOINT``        the lab's SQS
=========================  ==================================================================
unset, empty or ``moto``   moto's mock inside this process (the default): no network at all,
                           fake credentials, the simulated clock, every correction of moto
``moto-server``            moto's server mode (``moto.server.ThreadedMotoServer``) which the
                           lab starts in this process on 127.0.0.1 and a free port: every
                           request goes over HTTP, but the server shares this process's moto,
                           so the simulated clock and the corrections still apply
``http://host:port``       any SQS-compatible endpoint: ElasticMQ, LocalStack, a moto server.
                           Fake credentials. If the server turns out to be moto's and to run in
                           this process (a test that started a ``ThreadedMotoServer``), the lab
                           sees its queues and keeps the simulated clock; otherwise the clock is
                           real (see :class:`sqslab.clock.RealClock`)
``aws``                    real Amazon SQS, with your own credentials and region. Refused
                           unless ``SQSLAB_ALLOW_AWS=yes`` and ``SQSLAB_QUEUE_PREFIX`` are set
                           too; a URL on ``amazonaws.com`` counts as ``aws``
=========================  ==================================================================

On an endpoint whose queues are not in this process, every queue name is prefixed (with
``SQSLAB_QUEUE_PREFIX``, default ``sqslab-``, and a token of the lab's own, so two labs never share
a queue) and the lab deletes its queues when it closes. ``SQSLAB_MAX_WAIT`` (seconds, default 60)
bounds how long ``clock.advance`` may really wait there.

No other variable can send the lab elsewhere: ``AWS_ENDPOINT_URL``, ``AWS_PROFILE`` and the like are
removed while a lab runs (except, for ``aws``, the ones that find your credentials).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlparse

from .exceptions import EnvironmentProblem

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

#: The variables this module reads.
ENV = "SQSLAB_ENDPOINT"
ALLOW_AWS_ENV = "SQSLAB_ALLOW_AWS"
PREFIX_ENV = "SQSLAB_QUEUE_PREFIX"
MAX_WAIT_ENV = "SQSLAB_MAX_WAIT"

#: ``SQSLAB_ALLOW_AWS`` must be exactly this: an explicit yes, not any non-empty value.
AWS_YES = "yes"
DEFAULT_PREFIX = "sqslab-"
DEFAULT_MAX_WAIT = 60.0
DEFAULT_REGION = "us-east-1"
KINDS = ("moto", "moto-server", "url", "aws")

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class Endpoint:
    """Where the lab's AWS calls go.

    Attributes
    ----------
    kind: ``"moto"`` (in-process mock), ``"moto-server"``, ``"url"`` or ``"aws"``.
    url: the endpoint URL (None for ``moto``, and for ``aws``, where botocore finds it).
    region: the region clients are made for.
    prefix: put before every queue name on an endpoint whose queues are not in this process.
    max_wait: the longest real wait ``clock.advance`` accepts where the clock is real.
    """

    kind: str = "moto"
    url: str | None = None
    region: str = DEFAULT_REGION
    prefix: str = DEFAULT_PREFIX
    max_wait: float = DEFAULT_MAX_WAIT

    @property
    def in_process_mock(self) -> bool:
        """True for the default: moto's mock in this process, no network."""
        return self.kind == "moto"

    @property
    def real_aws(self) -> bool:
        """True when the calls go to Amazon SQS itself."""
        return self.kind == "aws"

    def describe(self) -> str:
        """A few words for messages: ``moto in this process``, ``http://127.0.0.1:9324``..."""
        if self.kind == "moto":
            return "moto in this process"
        if self.kind == "aws":
            return f"Amazon SQS ({self.region})"
        if self.kind == "moto-server":
            return f"moto's server mode at {self.url}" if self.url else "moto's server mode"
        return self.url or "?"


def _is_aws_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn") or host == "amazonaws.com"


def from_environment(environ: Mapping[str, str] | None = None) -> Endpoint:
    """The endpoint ``SQSLAB_ENDPOINT`` asks for, checked.

    Raises
    ------
    EnvironmentProblem
        For a value that is not understood, and for real AWS without ``SQSLAB_ALLOW_AWS=yes`` and a
        valid ``SQSLAB_QUEUE_PREFIX`` (never by accident), with the fix in the message.
    """
    env = os.environ if environ is None else environ
    value = (env.get(ENV) or "").strip()
    max_wait = _max_wait(env)
    if value in ("", "moto"):
        return Endpoint("moto", max_wait=max_wait)
    if value == "moto-server":
        return Endpoint("moto-server", max_wait=max_wait)
    if value == "aws":
        return _aws(env, None, max_wait)
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise EnvironmentProblem(
            f"{ENV}={value!r} is not understood. Use nothing or 'moto' (the default: moto in this process), "
            "'moto-server' (moto's server mode, started by the lab on 127.0.0.1), a URL such as "
            "'http://localhost:9324' (ElasticMQ, LocalStack, a moto server), or 'aws' (real SQS; needs "
            f"{ALLOW_AWS_ENV}={AWS_YES} and {PREFIX_ENV}).")
    if _is_aws_host(parsed.hostname):
        return _aws(env, value.rstrip("/"), max_wait)
    prefix = env.get(PREFIX_ENV) or DEFAULT_PREFIX
    _check_prefix(prefix)
    return Endpoint("url", value.rstrip("/"), _region(env) or DEFAULT_REGION, prefix, max_wait)


def _aws(env: Mapping[str, str], url: str | None, max_wait: float) -> Endpoint:
    if env.get(ALLOW_AWS_ENV) != AWS_YES:
        raise EnvironmentProblem(
            f"{ENV} points at real Amazon SQS. That creates real queues on your AWS account and costs "
            f"money, so it needs an explicit yes: set {ALLOW_AWS_ENV}={AWS_YES} and a queue-name prefix "
            f"({PREFIX_ENV}=yourname-sqslab-), or unset {ENV} to stay on moto in this process.")
    prefix = env.get(PREFIX_ENV) or ""
    if not prefix:
        raise EnvironmentProblem(
            f"On real AWS every queue the lab creates is named after a prefix of yours, so it can never "
            f"touch a queue of anyone else's: set {PREFIX_ENV} (letters, digits, - and _, at most 40), "
            "for example yourname-sqslab-.")
    _check_prefix(prefix)
    region = _region(env)
    if not region:
        raise EnvironmentProblem("Real AWS needs a region: set AWS_REGION (for example eu-west-1).")
    return Endpoint("aws", url, region, prefix, max_wait)


def _check_prefix(prefix: str) -> None:
    if not _PREFIX_RE.match(prefix):
        raise EnvironmentProblem(
            f"{PREFIX_ENV}={prefix!r}: a queue-name prefix has 1 to 40 letters, digits, - or _.")


def _region(env: Mapping[str, str]) -> str | None:
    return env.get("SQSLAB_REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")


def _max_wait(env: Mapping[str, str]) -> float:
    raw = env.get(MAX_WAIT_ENV)
    if not raw:
        return DEFAULT_MAX_WAIT
    try:
        value = float(raw)
    except ValueError:
        raise EnvironmentProblem(f"{MAX_WAIT_ENV}={raw!r} is not a number of seconds.") from None
    if value < 0:
        raise EnvironmentProblem(f"{MAX_WAIT_ENV}={raw!r}: the longest real wait cannot be negative.")
    return value


# -- moto's server mode, in this process -----------------------------------------------------------
_server = None
_server_url: str | None = None
_server_lock = threading.Lock()


def moto_server_url() -> str:
    """The URL of this process's moto server, started on 127.0.0.1 and a free port the first time.

    One server serves every lab of the process (starting one costs a thread and a socket; it lives
    as long as the process, like moto's own state). Requests never leave the machine.
    """
    global _server, _server_url
    with _server_lock:
        if _server_url is None:
            try:
                from moto.server import ThreadedMotoServer
            except ImportError as error:  # flask is what server mode needs beyond moto's mock
                raise EnvironmentProblem(
                    f"moto's server mode needs flask and flask-cors ({error}). Run `make setup` (they are "
                    "pinned in pyproject.toml), or unset SQSLAB_ENDPOINT.") from None
            # werkzeug logs every request at INFO on stderr: a notebook would fill with them.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _server, _server_url = server, f"http://{host}:{port}"
        return _server_url


# -- a lab on its endpoint ---------------------------------------------------------------------------
def connect(lab: "Lab", outer: "Lab | None") -> None:
    """Point a starting lab's clients at its endpoint; find out whether its queues are in this process."""
    from botocore.exceptions import EndpointConnectionError

    lab._url = moto_server_url() if lab.endpoint.kind == "moto-server" else lab.endpoint.url
    if lab.endpoint.kind == "moto-server":
        lab.in_process = True
    elif lab.endpoint.real_aws:
        lab.in_process = False
    else:
        try:
            lab.in_process = _serves_this_process(lab)
        except EndpointConnectionError:
            raise EnvironmentProblem(
                f"Nothing answers at SQSLAB_ENDPOINT={lab._url}. Start that SQS first (ElasticMQ: "
                "docker run -p 9324:9324 softwaremill/elasticmq-native), or unset SQSLAB_ENDPOINT to "
                "use moto in this process.") from None
    if lab.in_process:
        # moto's server shares this process's moto: a fresh world per lab, as mock_aws gives,
        # except inside another lab (the canary), whose queues must survive.
        if outer is None:
            _reset_moto_server(lab)
    else:
        import secrets

        lab._token = secrets.token_hex(3)


def _serves_this_process(lab: "Lab") -> bool:
    # A queue created through the endpoint shows up in this process's moto only if the
    # server is moto's and runs here (the test suite's ThreadedMotoServer).
    import secrets

    from .moto import state
    from .recorder import ACCOUNT_ID, REGION

    admin = lab._admin()
    name = f"sqslab-probe-{secrets.token_hex(4)}"
    url = admin.create_queue(QueueName=name)["QueueUrl"]
    try:
        return state.holds_queue(name, ACCOUNT_ID, REGION)
    finally:
        admin.delete_queue(QueueUrl=url)


def _reset_moto_server(lab: "Lab") -> None:
    import urllib.request

    # moto's server mode resets its state on this request (its public API, /moto-api/reset).
    with urllib.request.urlopen(urllib.request.Request(f"{lab._url}/moto-api/reset", method="POST"),
                                timeout=10):
        pass


def notice(lab: "Lab") -> str:
    """What changes on ``lab``'s endpoint, in a few lines (printed when such a lab opens)."""
    where = lab.endpoint.describe() if lab.endpoint.kind != "moto-server" else \
        f"moto's server mode at {lab._url}"
    if lab.endpoint.in_process_mock:
        return "sqslab: SQS is moto in this process (no network); the clock is simulated."
    if lab.in_process:
        return (f"sqslab: SQS is {where}, in this process. Every request goes over HTTP; the clock is "
                "still simulated and every correction of moto still applies.")
    return "\n".join([
        f"sqslab: SQS is {where}, outside this process. What changes:",
        f"  - the clock is real: clock.advance(n) waits n seconds (at most {lab.endpoint.max_wait:g}, "
        "SQSLAB_MAX_WAIT; longer moves are refused), so use small timeouts (visibility_timeout=2);",
        "  - the bench's corrections of moto do not apply: you see this endpoint's own behaviour "
        "(python -m sqslab.tools.fidelity says which SQS facts it honours);",
        "  - lab.snapshot() is the bench's own record of its calls (moves SQS makes by itself, to a "
        "dead-letter queue or by a redrive, are not on it); lab.depth() asks SQS;",
        "  - duplicate deliveries cannot be injected, and moto-only helpers (alarms, claims tables) "
        "are not available;",
        f"  - queue names start with {lab.endpoint.prefix}{lab._token}-, and the lab deletes its "
        "queues when it closes.",
    ])
