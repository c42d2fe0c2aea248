"""Speed-ups for the bench: the same SQS, with less work per call.

Every graded notebook runs about a hundred scenario runs, each a dozen SQS calls through boto3 and
moto, so the bench's speed decides whether a class can be graded in time. Profiling explorations
showed where a call's time goes, and that nearly all of a scenario run is its SQS calls: moto
rebuilding every queue attribute for each received message; moto's CamelCase conversions redone
character by character; werkzeug's test-environ builder per request; botocore assembling the
User-Agent twice per call, building the signed-header table twice, preparing a whole request to
read its body.

Each speed-up below is one function that installs it (see :data:`SPEED_UPS`); its docstring says
what it skips and why behaviour is unchanged. None changes what SQS does: every request moto
receives (headers, signature and body), every answer, every MessageId and receipt handle, every
attribute and every error stays the same, which ``tests/moto/test_speed.py`` checks by running the
same battery with and without each speed-up and comparing all of it, bit for bit. The retention
check builds a queue's attributes once where moto built them several times within one call; under
the lab's clock, which only moves when told to, those builds are equal (outside a lab, moto's clock
is the wall clock and the result is what moto would have answered at the first of those instants).

Each one is kept because it pays: ``make bench-speed`` (``sqslab.tools.benchspeed``) measures
every speed-up with and without it on executing the course, grading a class and the longest
exploration, and one that saves less than 5% on all three is deleted. Six were deleted that way
(receipt-handle letters drawn in bulk, one action looked up instead of listing a class's methods,
remembered URL routes, botocore's handler check from code flags, a fixed epoch, one-pass message
counts): together they saved about 3% of the course's CPU time.

The module is long because each speed-up carries its proof: what it replaces, why the answer is
the same, and the guard that refuses to install it on a moto or botocore it was not written for.

They patch moto and botocore at class or module level, once per process, after
:func:`sqslab.moto.fixes.apply` (so the corrections keep their order); ``Lab.start`` applies them.
:func:`remove` and :func:`disabled` put the originals back (the tests and ``python -m
sqslab.tools.bench`` compare both ways in one process); ``SQSLAB_SPEED=off`` in the environment keeps
:func:`apply` from installing any (to rule them out when something looks wrong).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import types
from typing import Any, Callable, Iterable, Iterator, NamedTuple

__all__ = ["SPEED_UPS", "SpeedUp", "apply", "remove", "active", "disabled"]

_FunctionType = types.FunctionType


class _NotAsShipped(Exception):
    """What a speed-up replaces is not as it expects (moto, botocore or a correction changed)."""


class SpeedUp(NamedTuple):
    """One speed-up: its name, what it skips, the function installing it."""

    name: str
    skips: str
    install: Callable[[], None]


_MISSING = object()
#: name -> [(owner, attribute, previous value or _MISSING)], in the order they were set.
_installed: dict[str, list[tuple[Any, str, Any]]] = {}
_installing: list[str] = []
_lock = threading.RLock()


def _on_undo(fn: Callable[[], None]) -> None:
    """Call ``fn`` when the speed-up being installed is removed (after its attributes are back)."""
    _installed[_installing[-1]].append((fn, "", _MISSING))


def _set(owner: Any, attribute: str, value: Any) -> None:
    """Replace ``owner.attribute``, remembering the previous value for :func:`remove`."""
    previous = vars(owner).get(attribute, _MISSING) if isinstance(owner, type) \
        else getattr(owner, attribute, _MISSING)
    _installed[_installing[-1]].append((owner, attribute, previous))
    setattr(owner, attribute, value)


# -- 1. CamelCase names -----------------------------------------------------------------------------
def cache_camelcase_conversions() -> None:
    """Remember ``moto.core.utils.camelcase_to_underscores`` results.

    Skips: recomputing ``"MessageRetentionPeriod" -> "message_retention_period"`` character by
    character (about 20 us each), which moto does for every queue attribute each time it builds
    a queue's attributes, for every action name it dispatches, and for every parameter.

    Unchanged because: the conversion is a pure function of its string argument (no state, no
    clock, no randomness), so a remembered answer is the answer. Arguments that cannot be
    remembered (not hashable) go to the original function. moto imports the function by name
    into its modules, so every loaded ``moto.*`` module holding the original gets the cached one,
    and so does ``moto.core.utils`` for the modules moto loads later.
    """
    from moto.core import utils

    original = utils.camelcase_to_underscores
    original = getattr(original, "_sqslab_original", original)
    remembered: dict[str, str] = {}

    @functools.wraps(original)
    def camelcase_to_underscores(argument):
        try:
            return remembered[argument]
        except KeyError:
            result = remembered[argument] = original(argument)
            if len(remembered) > 65536:  # bounded: names are few, but parameters are anyone's
                remembered.clear()
            return result
        except TypeError:  # unhashable: no memory for those
            return original(argument)

    camelcase_to_underscores._sqslab_original = original  # type: ignore[attr-defined]
    _replace_in_moto(original, camelcase_to_underscores)


def _replace_in_moto(original: Callable, replacement: Callable) -> None:
    """Put ``replacement`` wherever a loaded ``moto`` module holds ``original`` by its name."""
    name = original.__name__
    for module in _moto_modules():
        if vars(module).get(name) is original:
            _set(module, name, replacement)

    def forget_later_imports() -> None:
        # Modules moto loaded after the speed-up took the replacement from moto.core.utils.
        for module in _moto_modules():
            if vars(module).get(name) is replacement:
                setattr(module, name, original)

    _on_undo(forget_later_imports)


def _moto_modules() -> list:
    return [m for n, m in list(sys.modules.items())
            if (n == "moto" or n.startswith("moto.")) and m is not None and hasattr(m, "__dict__")]


# -- 2. the retention check on receive --------------------------------------------------------------
def read_retention_period_directly() -> None:
    """Check a received message's retention against the queue's retention period directly.

    Skips: for every message a ReceiveMessage hands out, moto's
    ``is_message_valid_based_on_retention_period`` asked ``get_queue_attributes`` for
    ``MessageRetentionPeriod``, which builds the queue's full attribute dictionary three times
    (each time counting visible, delayed and in-flight messages over the whole queue): this is
    most of the "cost grows with the queue's size" row of docs/sqs-facts.md. Also,
    ``get_queue_attributes`` with a list of names now builds that dictionary once instead of
    twice per name.

    Unchanged because: ``attributes["MessageRetentionPeriod"]`` is ``queue.message_retention_period``
    itself (an int, always set: moto's default is four days), the comparison with the clock is
    moto's own, and an unknown queue raises the same ``QueueDoesNotExist``. Building the attribute
    dictionary reads state without changing it, so one build gives what several builds gave at
    the same instant (the lab's clock does not move during a call). The replacements keep the
    corrections' wrappers (the backend lock and message-move-task progress) of the methods they
    replace; the retention check no longer passes through ``get_queue_attributes``'s own
    wrappers, whose task progress the same ReceiveMessage already made at its start, at the same
    instant, so there was nothing left for them to move.
    """
    from moto.core.utils import unix_time
    from moto.sqs.exceptions import InvalidAttributeName
    from moto.sqs.models import SQSBackend

    def is_message_valid_based_on_retention_period(self, queue_name, message) -> bool:
        retention_period = self.get_queue(queue_name).message_retention_period
        retain_until = retention_period + message.sent_timestamp / 1000
        if retain_until <= unix_time():
            return False
        return True

    def get_queue_attributes(self, queue_name, attribute_names):
        queue = self.get_queue(queue_name)
        if not attribute_names:
            return {}
        valid_names = ["All"] + queue.BASE_ATTRIBUTES + queue.FIFO_ATTRIBUTES + queue.KMS_ATTRIBUTES
        invalid_name = next((name for name in attribute_names if name not in valid_names), None)
        if invalid_name or invalid_name == "":
            raise InvalidAttributeName(invalid_name)
        if "All" in attribute_names:
            return queue.attributes
        current = queue.attributes
        attributes = {}
        for name in attribute_names:
            if name in current and current.get(name) is not None:
                attributes[name] = current.get(name)
        return attributes

    for fn in (is_message_valid_based_on_retention_period, get_queue_attributes):
        original = vars(SQSBackend)[fn.__name__]
        _set(SQSBackend, fn.__name__, _rewrap_like(original, fn))


def _rewrap_like(original: Callable, replacement: Callable) -> Callable:
    """``replacement`` inside the same wrappers of the corrections (lock, task progress) as ``original``."""
    from .backend import locked
    from .movetasks import _progress_first

    layers = []
    fn = original
    while hasattr(fn, "__wrapped__"):
        if getattr(fn, "_sqslab_locked", False):
            layers.append(locked)
        elif getattr(fn, "_sqslab_progress", False):
            layers.append(_progress_first)
        else:
            raise _NotAsShipped(f"an unknown wrapper around SQSBackend.{replacement.__name__}")
        fn = fn.__wrapped__
    for layer in reversed(layers):
        replacement = layer(replacement)
    return replacement


# -- 3. botocore: the User-Agent header ------------------------------------------------------------------
def remember_user_agent_strings() -> None:
    """Build each distinct User-Agent string once.

    Skips: botocore assembles the User-Agent header twice per call (once when it serializes the
    request, once more when the request is created, to add the features the call used),
    sanitizing some 15 components character by character each time (about 0.3 ms per call).

    Unchanged because: ``UserAgentString.to_string`` is a function of the object's fields (set at
    client creation), of the client's configuration fields it reads, and of the feature ids in the
    current request context; all of them, and the order in which the features would be joined,
    are the key of the remembered string. A configuration that supplies its own User-Agent goes
    through botocore's code every time.
    """
    from botocore import useragent

    cls = useragent.UserAgentString
    original = vars(cls)["to_string"]
    remembered: dict[tuple, str] = {}

    def config_key(config) -> tuple | None:
        if not config:
            return None
        override = config._supplied_user_agent if hasattr(config, "_supplied_user_agent") \
            else config.user_agent
        if override is not None:
            raise LookupError  # a legacy User-Agent override: botocore's code every time
        retries = config.retries
        return (bool(retries), retries.get("mode") if retries else None,
                bool(config.endpoint_discovery_enabled), config.user_agent_appid, config.user_agent_extra)

    def to_string(self) -> str:
        try:
            ctx = useragent.get_context()
            context_features = set() if ctx is None else ctx.features
            features = tuple((self._client_features or set()).union(context_features))
            fields = tuple((k, v) for k, v in vars(self).items()
                           if k not in ("_client_features", "_client_config"))
            key = (features, fields, config_key(self._client_config), useragent.modify_components,
                   useragent.botocore_version)
            hash(key)
        except (LookupError, TypeError, AttributeError):
            return original(self)
        text = remembered.get(key)
        if text is None:
            text = original(self)
            if len(remembered) > 1024:
                remembered.clear()
            remembered[key] = text
        return text

    to_string.__doc__ = original.__doc__
    _set(cls, "to_string", to_string)


# -- 4. botocore: signing --------------------------------------------------------------------------------
def sign_without_repeating_work() -> None:
    """Sign each request (SigV4) computing the signed headers once and the signing key once per day.

    Skips: botocore's ``SigV4Auth.add_auth`` builds the table of headers to sign twice per
    request (an ``email.message``-based header object each time) and derives the signing key with
    four HMACs per request, though it only changes with the date, region, service and secret key.

    Unchanged because: the request sent to moto carries the same headers with the same values
    (``Authorization``, ``X-Amz-Date``, ``X-Amz-Security-Token``...): the canonical request, the
    string to sign and the signature are computed with botocore's own formulas from the same
    inputs; the headers do not change between botocore's two builds of the table; HMAC is a pure
    function, so a remembered key is the key. Only ``SigV4Auth`` itself is sped up: a subclass
    that overrides any step (S3's, presigning, SigV4a) signs the old way. Header values that are
    not plain strings fall back to the old way too.
    """
    import hmac
    from hashlib import sha256

    from botocore import auth

    cls = auth.SigV4Auth
    original = vars(cls)["add_auth"]
    steps = ("headers_to_sign", "canonical_headers", "signed_headers", "canonical_request",
             "string_to_sign", "signature", "scope", "credential_scope", "_inject_signature_to_request",
             "_modify_request_before_signing", "_sign", "_header_value", "canonical_query_string",
             "payload", "_normalize_url_path")
    originals = {name: vars(cls)[name] for name in steps}
    keys: dict[tuple, bytes] = {}

    def plain(cls_: type) -> bool:
        return all(getattr(cls_, name) is fn for name, fn in originals.items())

    hosts: dict[str, str] = {}

    def add_auth(self, request):
        if not plain(type(self)):
            return original(self, request)
        if self.credentials is None:
            raise auth.NoCredentialsError()
        datetime_now = auth.get_current_datetime()
        request.context["timestamp"] = datetime_now.strftime(auth.SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        table = _headers_to_sign(request)
        if table is None:
            # Unusual headers: botocore's own steps, from the same timestamp on.
            canonical_request = self.canonical_request(request)
            string_to_sign = self.string_to_sign(request, canonical_request)
            self._inject_signature_to_request(request, self.signature(string_to_sign, request))
            return None
        names, signed = table
        cr = [request.method.upper(),
              self._normalize_url_path(auth.urlsplit(request.url).path),
              self.canonical_query_string(request)]
        canonical_headers = "\n".join(
            f"{key}:{','.join(' '.join(v.split()) for v in names[key])}" for key in sorted(names))
        cr.append(canonical_headers + "\n")
        cr.append(signed)
        if "X-Amz-Content-SHA256" in request.headers:
            body_checksum = request.headers["X-Amz-Content-SHA256"]
        else:
            body_checksum = self.payload(request)
        cr.append(body_checksum)
        canonical_request = "\n".join(cr)
        auth.logger.debug("Calculating signature using v4 auth.")
        auth.logger.debug("CanonicalRequest:\n%s", canonical_request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        auth.logger.debug("StringToSign:\n%s", string_to_sign)
        day = request.context["timestamp"][0:8]
        secret = self.credentials.secret_key
        key_of_day = (secret, day, self._region_name, self._service_name)
        k_signing = keys.get(key_of_day)
        if k_signing is None:
            k = hmac.new(f"AWS4{secret}".encode(), day.encode("utf-8"), sha256).digest()
            for part in (self._region_name, self._service_name, "aws4_request"):
                k = hmac.new(k, part.encode("utf-8"), sha256).digest()
            if len(keys) > 64:
                keys.clear()
            k_signing = keys[key_of_day] = k
        signature = hmac.new(k_signing, string_to_sign.encode("utf-8"), sha256).hexdigest()
        auth.logger.debug("Signature:\n%s", signature)
        request.headers["Authorization"] = ", ".join([
            f"AWS4-HMAC-SHA256 Credential={self.scope(request)}",
            f"SignedHeaders={signed}",
            f"Signature={signature}",
        ])
        return None

    def _headers_to_sign(request):
        """``(names -> values, signed header list)`` as botocore builds them, or None if unusual."""
        names: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            if type(name) is not str or type(value) is not str or not value.isascii() or not name.isascii():
                return None
            lname = name.lower()
            if lname not in auth.SIGNED_HEADERS_BLACKLIST:
                names.setdefault(lname, []).append(value)
        if "host" not in names:
            url = request.url
            host = hosts.get(url)
            if host is None:  # a pure function of the URL
                if len(hosts) > 4096:
                    hosts.clear()
                host = hosts[url] = auth._host_from_url(url)
            names["host"] = [host]
        signed = ";".join(sorted(n.lower().strip() for n in names))
        return names, signed

    add_auth.__doc__ = original.__doc__
    _set(cls, "add_auth", add_auth)


# -- 5. botocore: reading a request's body and headers -------------------------------------------------
def read_request_bodies_directly() -> None:
    """Read an unsent request's body without preparing the whole request, and its headers faster.

    Skips: botocore's ``AWSRequest.body`` prepared the entire request (URL, body and a fresh
    header dictionary with its content length) only to return the body, each time the signer
    hashed the payload. And reading the request's headers (``HTTPHeaders.items()``, from
    ``email.message``) passed every value through the email policy's "sanitize" step, which
    returns a plain ASCII string unchanged.

    Unchanged because: ``prepare().body`` is what the preparer's ``_prepare_body`` returns (the
    header part of preparing only reads the request), so the body is computed by that same
    method; the URL is still prepared, as before, in case it raises. A request whose preparer
    prepares differently (a subclass) is prepared in full, as before. For headers, the email
    ``compat32`` policy returns a string value as it is unless it holds surrogate characters,
    which an ASCII string cannot: those values are handed over directly, any other value goes
    through the policy as before.
    """
    from email import _policybase

    from botocore import awsrequest, compat

    request_cls = awsrequest.AWSRequest
    preparer_cls = awsrequest.AWSRequestPreparer
    original_body = vars(request_cls)["body"]
    prepare = vars(preparer_cls)["prepare"]

    def body(self):
        preparer = self._request_preparer
        if type(preparer).prepare is not prepare:
            return original_body.fget(self)
        preparer._prepare_url(self)
        body = preparer._prepare_body(self)
        if isinstance(body, str):
            body = body.encode("utf-8")
        return body

    _set(request_cls, "body", property(body, doc=original_body.__doc__))

    headers_cls = compat.HTTPHeaders
    compat32_fetch = _policybase.Compat32.header_fetch_parse
    message_items = headers_cls.items

    def items(self):
        policy = self.policy
        if type(policy) is not _policybase.Compat32 or type(policy).header_fetch_parse is not compat32_fetch:
            return message_items(self)
        return [(k, v) if type(v) is str and v.isascii() else (k, policy.header_fetch_parse(k, v))
                for k, v in self._headers]

    items.__doc__ = message_items.__doc__
    _set(headers_cls, "items", items)


# -- 6. moto: the request object -----------------------------------------------------------------------
def build_request_environ_directly() -> None:
    """Build the WSGI environ of a request moto receives directly, not through werkzeug's test builder.

    Skips: moto turns every botocore request into a werkzeug ``Request`` with
    ``Request.from_values``, which builds a ``werkzeug.test.EnvironBuilder`` (header objects,
    properties, a copy of the headers, their removal and re-joining) only to produce a plain
    dictionary.

    Unchanged because: the dictionary is produced by the builder's own steps in the builder's
    order, with werkzeug's own helpers (``iri_to_uri``, ``unquote``, the WSGI encoding), for the
    only shape moto passes: a method, a base URL, a path, a query string, a list of headers and
    a non-empty body. The result goes to the same request class; moto's own additions follow
    unchanged. An empty or non-bytes body, a header value with a newline (werkzeug refuses it),
    a base URL with a query, or a request class with its own ``from_values`` take werkzeug's way.
    ``tests/moto/test_speed.py`` compares both dictionaries key by key.
    """
    from io import BytesIO
    from urllib.parse import unquote, urlparse, urlsplit

    from botocore.awsrequest import HeadersDict
    from werkzeug._internal import _wsgi_encoding_dance
    from werkzeug.test import EnvironBuilder
    from werkzeug.urls import iri_to_uri as werkzeug_iri_to_uri
    from werkzeug.wrappers import Request as WerkzeugRequest

    from moto.core import request as moto_request

    cls = moto_request.Request
    original = vars(cls)["from_primitives"]
    werkzeug_from_values = vars(WerkzeugRequest)["from_values"].__func__

    uris: dict[str, str] = {}

    def iri_to_uri(iri: str) -> str:
        # werkzeug's iri_to_uri is a pure function of the string; requests repeat a few URLs.
        uri = uris.get(iri)
        if uri is None:
            if len(uris) > 4096:
                uris.clear()
            uri = uris[iri] = werkzeug_iri_to_uri(iri)
        return uri

    def environ_for(method, base_url, path, query_string, data, headers):
        if not data or not isinstance(data, (bytes, str)) or type(EnvironBuilder.__init__) is not _FunctionType:
            return None
        request_uri = urlsplit(path)
        eb_path = iri_to_uri(request_uri.path)
        scheme, netloc, script_root, qs, anchor = urlsplit(iri_to_uri(base_url))
        if qs or anchor or "?" in path:
            return None
        script_root = script_root.rstrip("/")
        listed = []
        for key, value in headers:
            if not isinstance(value, str):
                value = str(value)
            if "\n" in value or "\r" in value:
                return None
            listed.append((key, value))
        if isinstance(data, str):
            data = data.encode()
        input_stream = BytesIO(data)
        _, sep, port = netloc.partition(":")
        server_port = None
        if sep:
            try:
                server_port = int(port)
            except ValueError:
                pass
        if server_port is None:
            server_port = 443 if scheme == "https" else 80
        raw_uri = _wsgi_encoding_dance(path)
        result = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": _wsgi_encoding_dance(unquote(script_root)),
            "PATH_INFO": _wsgi_encoding_dance(unquote(eb_path)),
            "QUERY_STRING": _wsgi_encoding_dance(query_string),
            "REQUEST_URI": raw_uri,
            "RAW_URI": raw_uri,
            "SERVER_NAME": netloc.partition(":")[0],
            "SERVER_PORT": str(server_port),
            "HTTP_HOST": netloc,
            "SERVER_PROTOCOL": EnvironBuilder.server_protocol,
            "wsgi.version": EnvironBuilder.wsgi_version,
            "wsgi.url_scheme": scheme,
            "wsgi.input": input_stream,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        content_type = next((v for k, v in listed if k.lower() == "content-type"), None)
        if content_type is not None:
            result["CONTENT_TYPE"] = content_type
        result["CONTENT_LENGTH"] = str(len(data))
        combined: dict[str, list[str]] = {}
        for key, value in listed:
            if key.lower() not in ("content-type", "content-length"):
                combined.setdefault(f"HTTP_{key.upper().replace('-', '_')}", []).append(value)
        for key, values in combined.items():
            result[key] = ", ".join(values)
        return result

    def from_primitives(klass, method, url, headers, body=None):
        if isinstance(body, moto_request.AwsChunkedWrapper):
            body = body.read()
        # A botocore HeadersDict lists its items from its own dictionary: the same pairs, in the
        # same order, as its ``items()`` (which looks every key up again, case-insensitively).
        pairs = [(str(k), v) for k, v in headers._dict.items()] if type(headers) is HeadersDict \
            else headers.items()
        header_items = [
            (key, value.decode("utf-8") if isinstance(value, bytes) else value)
            for key, value in pairs
            if key.lower() not in ["transfer-encoding"]
        ]
        parsed_url = urlparse(url)
        base_url = f"{parsed_url.scheme}://{parsed_url.netloc}"
        data = body if body is not None else b""
        environ = None
        if getattr(klass.from_values, "__func__", None) is werkzeug_from_values:
            environ = environ_for(method, base_url, parsed_url.path, parsed_url.query, data, header_items)
        if environ is None:
            request = klass.from_values(method=method, base_url=base_url, path=parsed_url.path,
                                        query_string=parsed_url.query, data=data, headers=header_items)
        else:
            request = klass(environ)
        request.environ[moto_request.PRESERVED_HEADER_NAMES_ENVIRON_KEY] = {
            moto_request.environ_key_for_header(key): key
            for key, _ in header_items
            if moto_request.should_preserve_original_header_name(key)
        }
        request.environ.setdefault("CONTENT_LENGTH", "0")
        return request

    from_primitives.__doc__ = original.__func__.__doc__
    _set(cls, "from_primitives", classmethod(from_primitives))


# -- the speed-ups, and applying them ------------------------------------------------------------------
SPEED_UPS: tuple[SpeedUp, ...] = (
    SpeedUp("camelcase_cache", "recomputing CamelCase to snake_case conversions",
            cache_camelcase_conversions),
    SpeedUp("retention_check", "building every queue attribute (three times) per received message",
            read_retention_period_directly),
    SpeedUp("user_agent_cache", "assembling the same User-Agent string twice per call",
            remember_user_agent_strings),
    SpeedUp("sigv4_once", "building the signed-header table twice and the signing key per request",
            sign_without_repeating_work),
    SpeedUp("direct_body_and_headers", "preparing a whole request to read its body; email header parsing",
            read_request_bodies_directly),
    SpeedUp("direct_environ", "werkzeug's EnvironBuilder for every request moto receives",
            build_request_environ_directly),
)


def _select(names: Iterable[str] | None) -> list[SpeedUp]:
    known = {s.name: s for s in SPEED_UPS}
    if names is None:
        return list(SPEED_UPS)
    names = list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown speed-up(s) {unknown}; known: {sorted(known)}")
    return [known[n] for n in names]


def apply(names: Iterable[str] | None = None) -> tuple[str, ...]:
    """Install the speed-ups (all of them, or those named); safe to call again.

    The corrections of moto (:func:`sqslab.moto.fixes.apply`) are applied first, so a speed-up that
    replaces a corrected method keeps the correction's wrappers. A speed-up that finds what it
    replaces changed (another moto, a new correction) is left out with a warning: the bench is
    then slower, never different. ``SQSLAB_SPEED`` in the environment can leave some out (see
    :func:`_left_out_by_environment`): ``off`` installs nothing (to rule the speed-ups out when
    something looks wrong), ``-name,-other`` all but those (what ``make bench-speed`` measures).

    Returns
    -------
    tuple of str
        The names of the speed-ups in force.
    """
    import warnings

    from . import fixes

    fixes.apply()
    left_out = _left_out_by_environment()
    if left_out is None:
        return active()
    with _lock:
        for speed_up in _select(names):
            if speed_up.name in _installed or speed_up.name in left_out:
                continue
            _installed[speed_up.name] = []
            _installing.append(speed_up.name)
            try:
                speed_up.install()
            except (_NotAsShipped, KeyError, AttributeError, ImportError) as reason:
                _installing.pop()
                _undo(speed_up.name)
                warnings.warn(f"sqslab.moto.speed: {speed_up.name} left out ({reason}); the bench is slower, "
                              "not different", RuntimeWarning, stacklevel=2)
                continue
            except BaseException:
                _installing.pop()
                _undo(speed_up.name)
                raise
            _installing.pop()
    return active()


def _left_out_by_environment() -> frozenset[str] | None:
    """The speed-ups ``SQSLAB_SPEED`` leaves out; None when it leaves out all of them.

    Unset, empty or ``on``: none left out. ``off`` (or ``0``, ``no``, ``false``): all of them.
    ``-name1,-name2``: those named, which must be known (a misspelt name would measure nothing).
    """
    import os

    setting = os.environ.get("SQSLAB_SPEED", "").strip()
    if setting.lower() in ("0", "off", "no", "false"):
        return None
    if setting.lower() in ("", "on"):
        return frozenset()
    items = [item.strip() for item in setting.split(",") if item.strip()]
    if not all(item.startswith("-") for item in items):
        raise ValueError(f"SQSLAB_SPEED={setting!r}: expected on, off, or speed-ups to leave out "
                         "as -name1,-name2")
    return frozenset(s.name for s in _select(item[1:] for item in items))


def _undo(name: str) -> None:
    steps = _installed.pop(name, [])
    for owner, attribute, previous in reversed(steps):
        if not attribute:
            continue
        if previous is _MISSING:
            with contextlib.suppress(AttributeError):
                delattr(owner, attribute)
        else:
            setattr(owner, attribute, previous)
    for owner, attribute, _ in steps:
        if not attribute:
            owner()  # an undo callback


def remove(names: Iterable[str] | None = None) -> None:
    """Put back what the speed-ups (all of them, or those named) replaced."""
    with _lock:
        for speed_up in reversed(_select(names)):
            _undo(speed_up.name)


def active() -> tuple[str, ...]:
    """The names of the speed-ups in force, in :data:`SPEED_UPS` order."""
    return tuple(s.name for s in SPEED_UPS if s.name in _installed)


@contextlib.contextmanager
def disabled(names: Iterable[str] | None = None) -> Iterator[None]:
    """Run a block without the speed-ups (all, or those named), then restore what was in force."""
    with _lock:
        before = [n for n in active() if names is None or n in set(names)]
        remove(before)
    try:
        yield
    finally:
        apply(before)
